// Sends a dead letter again (to the broker) and records that it did. Idempotent: a dead letter with a replay
// marker is not sent again unless forced, and two replays of one id at the same time share one send.
// The replayed event keeps its original id, so if the process dies between the send and the marker and the
// replay is repeated, receivers can still tell it is the same event (at-least-once, never a new identity).
import type { EventSender } from '../events/sender.js';
import { HttpError } from '../http/errors.js';
import type { Logger } from '../logger.js';
import { eventForReplay, type ReplayMarker } from './record.js';
import type { DeadLetterQueries, StoredLetter } from './store.js';

export type ReplayOutcome =
  | { readonly id: string; readonly replayed: true; readonly status: number; readonly target: string; readonly replayedAt: string }
  | { readonly id: string; readonly replayed: false; readonly alreadyReplayedAt: string };

export interface Replayer {
  replay(stored: StoredLetter, force: boolean): Promise<ReplayOutcome>;
}

export function createReplayer(options: { store: DeadLetterQueries; sender: EventSender; target: string; now: () => Date; log: Logger }): Replayer {
  const { store, sender, target, now, log } = options;
  const inFlight = new Map<string, Promise<ReplayOutcome>>();
  // Replays done by this process: a caller may hold a letter read before another replay's marker landed.
  const doneHere = new Map<string, string>();

  async function replayOnce({ letter, replayed }: StoredLetter, force: boolean): Promise<ReplayOutcome> {
    const previous = doneHere.get(letter.id) ?? replayed?.replayedAt;
    if (previous && !force) return { id: letter.id, replayed: false, alreadyReplayedAt: previous };
    const { status } = await sender.send(eventForReplay(letter));
    const marker: ReplayMarker = { kind: 'replayed', id: letter.id, replayedAt: now().toISOString(), target, status };
    doneHere.set(letter.id, marker.replayedAt);
    try {
      await store.markReplayed(marker);
    } catch (err) {
      // Sent but not marked: a later replay would send it again (with the same event id). Say so.
      log.error({ err, deadLetter: letter.id }, 'dead letter replayed but the replay marker could not be written');
      throw new HttpError(500, 'store_failed', `dead letter ${letter.id} was replayed (status ${status}) but could not be marked as replayed; after a restart a second replay would send it again`);
    }
    log.info({ deadLetter: letter.id, eventId: letter.event.id, status, target }, 'dead letter replayed');
    return { id: letter.id, replayed: true, status, target, replayedAt: marker.replayedAt };
  }

  return {
    replay(stored, force) {
      const id = stored.letter.id;
      const running = inFlight.get(id);
      if (running) return running;
      const started = replayOnce(stored, force).finally(() => inFlight.delete(id));
      inFlight.set(id, started);
      return started;
    },
  };
}
