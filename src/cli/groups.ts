import { registerAuditCommands } from './audit-commands.js';
import { registerAclCommands } from './acl-commands.js';
import { registerConfigCommands } from './config-commands.js';
import { registerConsoleCommand } from './console-command.js';
import { registerDemoCommand } from './demo-command.js';
import { registerDirectoryCommands } from './directory-commands.js';
import { registerInspectCommand } from './inspect-commands.js';
import { registerKeysCommands } from './keys-commands.js';
import { registerQuarantineCommands } from './quarantine-commands.js';
import { registerTokenizeCommands } from './tokenize-commands.js';
import type { CommandGroup } from './program.js';

/** Every command group of `sealpost`, in help order (main.ts and the tests use this one list). */
export const registerAllGroups: readonly CommandGroup[] = [
  registerKeysCommands,
  registerDirectoryCommands,
  registerInspectCommand,
  registerQuarantineCommands,
  registerTokenizeCommands,
  registerAclCommands,
  registerAuditCommands,
  registerConsoleCommand,
  registerConfigCommands,
  registerDemoCommand,
];
