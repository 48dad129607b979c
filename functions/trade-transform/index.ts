// trade-transform: maps a trade from the data provider's format to ours, as mapping.json declares.
// A trade that cannot be mapped is rejected permanently (422, every problem listed): retrying would not
// help, so Knative sends it straight to the dead-letter sink.
import { PermanentError, reply, type EventFunction } from '../../runtime/function-api.js';
import mappingJson from './mapping.json' with { type: 'json' };
import { loadMapping, mapTrade } from './mapping.js';

const mapping = loadMapping(mappingJson);

const tradeTransform: EventFunction = (event, context) => {
  const result = mapTrade(mapping, event.data);
  if (!result.ok) {
    throw new PermanentError(`trade ${event.id} cannot be mapped: ${result.problems.join('; ')}`, {
      status: 422,
      details: result.problems,
    });
  }
  const subject = mapping.subjectField ? String(result.value[mapping.subjectField] ?? '') : undefined;
  context.log.info({ tradeId: result.value.tradeId }, 'trade mapped');
  return reply({ type: mapping.outputType, subject: subject || undefined, data: result.value, tradeevent: event.id });
};

export default tradeTransform;
