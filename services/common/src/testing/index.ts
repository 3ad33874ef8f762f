export { OpenApiChecker, validOpenApi } from './openapi-check.ts';
export { FakeTwilio } from './fake-twilio.ts';
export { requireEnv } from '../testenv.ts';
export { SqliteDocumentStore } from '../docstore/sqlite.ts';
export { MongoDocumentStore } from '../docstore/mongo.ts';
export { MemoryCache } from '../cache/memory.ts';
export { TestSocket, wsUrl, type Frame } from './wsclient.ts';
export { adapterUnderTest } from './contract.ts';
export { apiCaller, randomIp, type Call, type CallOptions, type TestResponse } from './http.ts';
