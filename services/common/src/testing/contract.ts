/**
 * Opens the adapter under test before a contract's cases and closes it after them; call it inside
 * the contract's `describe`, and read the opened adapter with the function it returns.
 */
export function adapterUnderTest<T extends { close?: () => Promise<void> }>(open: () => Promise<T>): () => T {
  let opened: T | undefined;
  before(async () => {
    opened = await open();
  });
  after(async () => {
    await opened?.close?.();
  });
  return () => {
    if (!opened) throw new Error('the adapter under test did not open');
    return opened;
  };
}
