// A CRI client that plays kubelet against containerd's CRI plugin: gRPC (grpc-js) over
// containerd's unix socket, messages from our CRI subset (protos/cri/runtime/v1/api.proto) loaded
// with protobufjs at run time. Replies are plain objects: int64 as number, enums as their names
// ("CONTAINER_RUNNING"), absent fields as their defaults. A failed call rejects with a CriError
// carrying the gRPC status code, so tests can assert on Unimplemented, NotFound, …
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import type { ContainerdBuild } from './containerd-builds';
import { repoRoot } from './containerd';
import { waitFor } from './processes';

export const CRI_PROTO = path.join(repoRoot, 'protos', 'cri', 'runtime', 'v1', 'api.proto');

export type CriService = 'RuntimeService' | 'ImageService';

/** A CRI call that failed: `code` is the gRPC status (12 = Unimplemented, 5 = NotFound, …). */
export class CriError extends Error {
  constructor(
    readonly method: string,
    readonly code: grpc.status,
    readonly details: string,
  ) {
    super(`CRI ${method} failed: ${grpc.status[code] ?? code} (${code}): ${details}`);
    this.name = 'CriError';
  }
}

export interface CriCallOptions {
  /** Deadline of the call (default 60 s: a pod start includes image unpack and firmware boot). */
  timeoutMs?: number;
}

/** Plain-object replies, typed loosely: the tests that read a field assert on it. */
export type CriReply = any;

export interface CriClient {
  /** runtime.v1.RuntimeService/<method> */
  runtime(method: string, request: object, opts?: CriCallOptions): Promise<CriReply>;
  /** runtime.v1.ImageService/<method> */
  image(method: string, request: object, opts?: CriCallOptions): Promise<CriReply>;
  close(): void;
}

let root: protobuf.Root | undefined;
function loadRoot(): protobuf.Root {
  if (!root) {
    root = new protobuf.Root();
    root.loadSync(CRI_PROTO, { keepCase: true });
    root.resolveAll();
  }
  return root;
}

/** Connects to containerd's gRPC socket (the CRI plugin serves on the same socket). */
export function connectCri(socketPath: string): CriClient {
  const services = loadRoot();
  const client = new grpc.Client(`unix://${socketPath}`, grpc.credentials.createInsecure());

  const call = (service: CriService, method: string, request: object, opts: CriCallOptions = {}) => {
    const svc = services.lookupService(`runtime.v1.${service}`);
    const m = svc.methods[method];
    if (!m) throw new Error(`${service}.${method} is not in ${CRI_PROTO}`);
    const reqType = services.lookupType(m.requestType);
    const resType = services.lookupType(m.responseType);
    const message = reqType.fromObject(request); // enum names ("NODE") become numbers here
    return new Promise<CriReply>((resolve, reject) => {
      client.makeUnaryRequest(
        `/runtime.v1.${service}/${method}`,
        (msg: protobuf.Message) => Buffer.from(reqType.encode(msg).finish()),
        (bytes: Buffer) => resType.toObject(resType.decode(bytes), { longs: Number, enums: String, defaults: true, bytes: Buffer }),
        message,
        new grpc.Metadata(),
        { deadline: Date.now() + (opts.timeoutMs ?? 60_000) },
        (err, reply) => {
          if (err) reject(new CriError(method, err.code, err.details));
          else resolve(reply);
        },
      );
    });
  };

  return {
    runtime: (method, request, opts) => call('RuntimeService', method, request, opts),
    image: (method, request, opts) => call('ImageService', method, request, opts),
    close: () => client.close(),
  };
}

/** A host-network pod config as kubelet sends it (containerd 1.6 needs an empty hostname then). */
export function hostNetworkPod(opts: {
  name: string;
  uid: string;
  namespace?: string;
  logDirectory: string;
  annotations?: Record<string, string>;
}): object {
  return {
    metadata: { name: opts.name, uid: opts.uid, namespace: opts.namespace ?? 'default', attempt: 0 },
    hostname: '',
    log_directory: opts.logDirectory,
    labels: { app: opts.name },
    annotations: opts.annotations ?? {},
    linux: {
      security_context: { namespace_options: { network: 'NODE', pid: 'CONTAINER', ipc: 'POD' } },
    },
  };
}

/** The containerd config snippet micrun ships for a build's line, as admins copy it. */
export function shippedConfigFile(build: ContainerdBuild): string {
  return path.join(repoRoot, 'configs', build.major >= 2 ? 'containerd-2.x.toml' : 'containerd-1.6-1.7.toml');
}

/**
 * The shipped snippet of this build's line (configs/containerd-1.6-1.7.toml or
 * configs/containerd-2.x.toml) used as shipped, so the file admins copy is the one tested. Only
 * what is this machine's goes around it: the version header is startContainerd's, the pause image
 * is the test's local one, restrict_oom_score_adj is uncommented (containerd here has no
 * CAP_SYS_RESOURCE to lower its children's score below its own), and the CNI dirs are the test's.
 * Throws if the shipped file no longer has the lines replaced here, instead of testing a config
 * that silently differs.
 */
export function shippedCriConfig(build: ContainerdBuild, opts: { pauseImage: string; cniBinDir: string; cniConfDir: string }): string {
  const file = shippedConfigFile(build);
  const shipped = readFileSync(file, 'utf8');
  const v3 = build.major >= 2;
  const edits: [RegExp, string][] = [
    [v3 ? /^version = 3\n/m : /^version = 2\n/m, ''],
    [v3 ? /^(\s*sandbox = ).*$/m : /^(\s*sandbox_image = ).*$/m, `$1"${opts.pauseImage}"`],
    [/^(\s*)# (restrict_oom_score_adj = true)$/m, '$1$2'],
  ];
  let config = shipped;
  for (const [pattern, replacement] of edits) {
    if (!pattern.test(config)) throw new Error(`${file} has no line matching ${pattern}: update shippedCriConfig with it`);
    config = config.replace(pattern, replacement);
  }
  // 2.x reads a list of CNI bin dirs (bin_dir is deprecated there and logs a warning).
  const cni = v3
    ? ["[plugins.'io.containerd.cri.v1.runtime'.cni]", `  bin_dirs = ["${opts.cniBinDir}"]`]
    : ['[plugins."io.containerd.grpc.v1.cri".cni]', `  bin_dir = "${opts.cniBinDir}"`];
  return [config, ...cni, `  conf_dir = "${opts.cniConfDir}"`].join('\n');
}

/**
 * Connects to containerd's CRI and resolves once it knows every image in `images`: CRI learns
 * about `ctr image import`ed images from containerd's image events, a moment after the import.
 */
export async function connectCriWithImages(socketPath: string, images: readonly string[]): Promise<CriClient> {
  const cri = connectCri(socketPath);
  try {
    await waitFor(
      async () => {
        for (const image of images) if (!(await cri.image('ImageStatus', { image: { image } })).image) return false;
        return true;
      },
      { what: `CRI to know ${images.join(', ')}`, timeoutMs: 20_000, intervalMs: 200 },
    );
  } catch (err) {
    cri.close();
    throw err;
  }
  return cri;
}
