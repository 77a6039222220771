// The protobufjs runtime that generated.js is built against (gen-proto.mjs points its import
// here). It switches 64-bit integers to plain numbers before any generated code is evaluated:
// pbjs --force-number only changes the .d.ts types, while the runtime would still decode
// int64/uint64 as Long objects (and put Long defaults on message prototypes) because the `long`
// package is installed. Numbers are exact for everything containerd sends in 64-bit fields:
// timestamps, timeout_nano (< 104 days), byte and time counters (< 2^53).
import $protobuf from 'protobufjs/minimal.js';

$protobuf.util.Long = null as unknown as typeof $protobuf.util.Long;
$protobuf.configure();

export default $protobuf;
