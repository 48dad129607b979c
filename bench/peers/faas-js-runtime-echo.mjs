// Knative's own Node function runtime (faas-js-runtime): the same echo as ours (answers the event's data).
export const handle = (_context, event) => event.data;
