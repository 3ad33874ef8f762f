export { ParleyClient, ParleyApiError, type ParleyClientOptions, type Readiness } from './client.ts';
