// ISO-8601 durations as Knative's DeliverySpec writes them (`PT0.5S`, `PT1M30S`, `P1DT2H`) → milliseconds.
// Years and months have no fixed length, so (like Knative's own parser) they are refused.

const pattern =
  /^P(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/** Milliseconds in `text`, or undefined when it is not an ISO-8601 duration of weeks/days/hours/minutes/seconds. */
export function parseDuration(text: string): number | undefined {
  const match = pattern.exec(text.trim().toUpperCase());
  if (!match || text.trim().toUpperCase() === 'P' || text.trim().toUpperCase().endsWith('T')) return undefined;
  const [, weeks, days, hours, minutes, seconds] = match.map((part) => (part === undefined ? 0 : Number(part)));
  const ms =
    ((((weeks ?? 0) * 7 + (days ?? 0)) * 24 + (hours ?? 0)) * 60 + (minutes ?? 0)) * 60_000 + (seconds ?? 0) * 1000;
  return Math.round(ms);
}
