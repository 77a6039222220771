// src/ttrpc — the ttrpc protocol (containerd/ttrpc) for Node: frame codec, unary server with
// interceptors, client, metadata, and the single mapping from errors to wire status.
//
// Owns: bytes on the socket, stream ids, timeouts/abort, status codes.
// Does not know: containerd, its services or messages (callers pass encoded payloads and a
// service name), logging or tracing (those come in as an Interceptor / onError).
export { TtrpcServer, type CallContext, type Handler, type Interceptor, type TtrpcServerOptions } from './server';
export { TtrpcClient, type CallOptions, type ConnectOptions } from './client';
export { TtrpcError, toStatus, fromStatus, Code, type WireStatus } from './status';
export { firstValue, type Metadata } from './metadata';
export { FrameDecoder, encodeFrame, FrameType, FrameFlag, HEADER_LENGTH, MAX_DATA_LENGTH, type Frame } from './frame';
