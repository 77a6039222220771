// Per-instance text commands, answered exactly as micad answers them: reply text immediately
// followed by MICA-SUCCESS or MICA-FAILED. micad's commands: start, stop, rm, status,
// set <key> <value>, gdb; micad-sim extensions: pause, resume, info (see docs/micad-sim.md).

import { isCodedError } from '../errors';
import { CTRL_MSG_SIZE, formatReply, INVALID_COMMAND_TEXT } from '../mica/wire';
import type { Instance } from './instance';
import { parseSetCommand } from './set-command';

export interface CommandOutcome {
  reply: string;
  /** True after a successful `rm`: the server must unregister the instance. */
  removed: boolean;
}

/**
 * The command as micad sees it: one recv() into a zeroed 32-byte buffer, compared up to the
 * first NUL. Bytes past 32 are ignored, exactly as micad never reads them.
 */
export function commandText(bytes: Buffer): string {
  const msg = bytes.subarray(0, CTRL_MSG_SIZE);
  const nul = msg.indexOf(0);
  return msg.subarray(0, nul < 0 ? msg.length : nul).toString('latin1');
}

export async function handleCommand(instance: Instance, msg: string): Promise<CommandOutcome> {
  const ok = (text = '') => ({ reply: formatReply(true, text), removed: false });
  const failed = (text = '') => ({ reply: formatReply(false, text), removed: false });
  try {
    switch (msg) {
      case 'start':
        await instance.serialize(() => instance.start());
        return ok();
      case 'stop':
        await instance.serialize(() => instance.stop());
        return ok();
      case 'rm':
        await instance.serialize(() => instance.remove());
        return { reply: formatReply(true), removed: true };
      case 'status':
        return ok(instance.statusLine());
      case 'gdb':
        // micad-sim has no gdb service; micad's own reply for an instance created without debug.
        return failed('The elf file does not support debugging\n');
      case 'pause':
        await instance.serialize(() => instance.pause());
        return ok();
      case 'resume':
        await instance.serialize(() => instance.resume());
        return ok();
      case 'info':
        return ok(JSON.stringify(await instance.info()));
    }
    if (msg.startsWith('set')) {
      const set = parseSetCommand(msg);
      if (!set.ok) return failed(set.text);
      instance.setResource(set.key, set.value);
      return ok();
    }
    return failed(`${INVALID_COMMAND_TEXT}${msg}`);
  } catch (err) {
    // micad replies a bare MICA-FAILED for most errors; the reason helps more than silence.
    return failed(isCodedError(err) || err instanceof Error ? err.message : String(err));
  }
}
