// Pins src/proto against hand-checked bytes from the protocol notes, so a wrong field number
// or type in protos/ fails here rather than against containerd.
import { describe, expect, it } from 'vitest';
import { containerd, google, io, packAny, runtimeoptions, toAny, ttrpc } from '../../src/proto';
import { encodeFrame, FrameType } from '../../src/ttrpc';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('src/proto wire format', () => {
  it('encodes the Connect request frame of the worked example byte for byte', () => {
    const payload = containerd.task.v2.ConnectRequest.encode(containerd.task.v2.ConnectRequest.create({ id: 'abc' })).finish();
    const req = ttrpc.Request.encode({ service: 'containerd.task.v2.Task', method: 'Connect', payload }).finish();
    const frame = encodeFrame(1, FrameType.Request, 0, req);
    const expected =
      '00000029' + '00000001' + '01' + '00' +
      '0a17' + Buffer.from('containerd.task.v2.Task').toString('hex') +
      '1207' + Buffer.from('Connect').toString('hex') +
      '1a05' + '0a03' + Buffer.from('abc').toString('hex');
    expect(hex(frame)).toBe(expected);
  });

  it('encodes the NotFound error reply of the worked example', () => {
    const body = ttrpc.Response.encode({ status: { code: 5, message: 'container not created: not found' } }).finish();
    expect(hex(encodeFrame(1, FrameType.Response, 0, body))).toBe(
      '00000026' + '00000001' + '02' + '00' + '0a24' + '0805' + '1220' + Buffer.from('container not created: not found').toString('hex'),
    );
  });

  it('TaskExit uses fields container_id=1 id=2 pid=3 exit_status=4 exited_at=5', () => {
    const bytes = containerd.events.TaskExit.encode({ containerId: 'c', id: 'c', pid: 7, exitStatus: 3, exitedAt: { seconds: 2, nanos: 1 } }).finish();
    expect(hex(bytes)).toBe('0a0163' + '120163' + '1807' + '2003' + '2a04' + '0802' + '1001');
  });

  it('timeout_nano is an int64 number and round-trips beyond 2^32', () => {
    const ns = 30_000 * 1e6;
    const back = ttrpc.Request.decode(ttrpc.Request.encode({ service: 's', method: 'm', timeoutNano: ns }).finish());
    expect(back.timeoutNano).toBe(ns);
  });

  it('packs events in an Any with the bare type URL', () => {
    const any = toAny('containerd.events.TaskStart', containerd.events.TaskStart, { containerId: 'c', pid: 9 });
    const fwd = containerd.services.events.ttrpc.v1.ForwardRequest.encode({
      envelope: { timestamp: { seconds: 1, nanos: 0 }, namespace: 'default', topic: '/tasks/start', event: any },
    }).finish();
    const back = containerd.services.events.ttrpc.v1.ForwardRequest.decode(fwd);
    expect(back.envelope?.event?.type_url).toBe('containerd.events.TaskStart');
    expect(containerd.events.TaskStart.decode(back.envelope!.event!.value!).pid).toBe(9);
    expect(packAny('x.Y', new Uint8Array([1])).type_url).toBe('x.Y');
  });

  it('CreateTaskRequest carries rootfs mounts (3) and options Any (10)', () => {
    const opts = runtimeoptions.v1.Options.encode({ typeUrl: 't', configPath: '/etc/mica/micrun/config.toml' }).finish();
    const bytes = containerd.task.v2.CreateTaskRequest.encode({
      id: 'c',
      rootfs: [{ type: 'overlay', source: 'overlay', options: ['lowerdir=/a'] }],
      options: { type_url: 'runtimeoptions.v1.Options', value: opts },
    }).finish();
    const back = containerd.task.v2.CreateTaskRequest.decode(bytes);
    expect(back.rootfs[0]?.options).toEqual(['lowerdir=/a']);
    expect(runtimeoptions.v1.Options.decode(back.options!.value!).configPath).toBe('/etc/mica/micrun/config.toml');
    expect(hex(bytes).startsWith('0a0163' + '1a')).toBe(true);
  });

  it('StateResponse status is the containerd.v1.types.Status enum at field 4', () => {
    const bytes = containerd.task.v2.StateResponse.encode({ status: containerd.v1.types.Status.STOPPED }).finish();
    expect(hex(bytes)).toBe('2003');
    expect(containerd.v1.types.Status.PAUSING).toBe(5);
  });

  it('cgroups metrics use upstream field numbers (v1 memory usage 33, v2 memory usage 32)', () => {
    const v1 = io.containerd.cgroups.v1.Metrics.encode({ memory: { usage: { usage: 1 } } }).finish();
    expect(hex(v1)).toBe('2205' + '8a02' + '021001');
    const v2 = io.containerd.cgroups.v2.Metrics.encode({ memory: { usage: 1 } }).finish();
    expect(hex(v2)).toBe('2203' + '8002' + '01');
  });

  it('Empty and Timestamp come from google.protobuf', () => {
    expect(google.protobuf.Empty.encode({}).finish().length).toBe(0);
    expect(google.protobuf.Timestamp.decode(google.protobuf.Timestamp.encode({ seconds: 1_700_000_000, nanos: 5 }).finish()).seconds).toBe(1_700_000_000);
  });
});
