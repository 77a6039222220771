#!/usr/bin/env node
// Regenerates src/proto/ from protos/*.proto with protobufjs-cli (pbjs static-module + .d.ts).
// Static code was chosen over reflection (Root.fromJSON) by measurement: see src/proto/index.ts.
// Reproducible: the file list is sorted and pbjs output depends only on the .proto inputs.
import { generateCode } from './lib/gen-proto-lib.mjs';

await generateCode();
