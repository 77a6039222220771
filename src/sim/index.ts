// micad-sim: a daemon that speaks micad's control protocol byte for byte (create socket with
// the binary create_msg, per-instance text commands, MICA-SUCCESS/MICA-FAILED replies, status
// lines, an rpmsg-tty-like console pty) and runs each instance's firmware in qemu-system-arm.
//
// Owns: the socket directory it serves, the QEMU processes it starts (tracked and stopped by
// PID), their private QMP/console sockets, the console ptys.
// Does not know: containerd, the shim, the runtime. It shares only src/mica's wire definitions
// and pty helpers with the rest of micrun, and src/errors.
//
// Modules: micad-sim.ts (sockets, registry), command-handler.ts (text commands),
// instance.ts (state machine), qemu-process.ts (pedestal), qmp-client.ts, console-bridge.ts,
// create-message.ts, set-command.ts, elf-machine.ts, proc-stats.ts, cli-args.ts, main.ts.

export { MicadSim, type MicadSimOptions } from './micad-sim';
export { decodeCreateMessage, type DecodedCreateMessage } from './create-message';
export { detectMachine, armProfile, DEFAULT_CORTEX_M_MACHINE } from './elf-machine';
export { parseSetCommand } from './set-command';
export { commandText, handleCommand } from './command-handler';
export { qemuArgs } from './qemu-process';
