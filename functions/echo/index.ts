// echo: logs the event and answers with its data. The smallest useful function, and the benchmark's.
import type { EventFunction } from '../../runtime/function-api.js';

const echo: EventFunction = (event, context) => {
  context.log.debug({ data: event.data }, 'echo');
  return event.data ?? { id: event.id, type: event.type };
};

export default echo;
