// ROLE → the module that builds it. Imports are lazy so a process loads only its own role's code
// (esbuild keeps them in the one bundle but initialises a module only when it is first imported).
import type { RuntimeConfig } from '../config.js';
import type { RoleDeps, RoleInstance } from './role.js';

export async function createRole(config: RuntimeConfig, deps: RoleDeps): Promise<RoleInstance> {
  switch (config.role) {
    case 'handler':
      return (await import('./handler.js')).createHandlerRole(config, deps);
    case 'subscriber':
      return (await import('./subscriber.js')).createSubscriberRole(config, deps);
    case 'sink-forwarder':
      return (await import('./sink-forwarder.js')).createSinkForwarderRole(config, deps);
    case 'dlq':
      return (await import('./dlq.js')).createDlqRole(config, deps);
  }
}
