// Date's toISOString with the text up to the second kept from the last call: V8 formats every date through
// snprintf (≈ 2,500 instructions under callgrind, issue 19), and a request asks for one or two (the log line's
// timestamp, a sink record's time), nearly always within a second already formatted.

let cachedSecond = Number.NaN;
/** "YYYY-MM-DDTHH:MM:SS." of cachedSecond. */
let cachedHead = '';

/** `new Date(ms).toISOString()`, the same text for every time value (and the same RangeError for an invalid one). */
export function isoString(ms: number): string {
  const time = Math.trunc(ms); // what Date keeps of a fractional time
  const second = Math.floor(time / 1000);
  if (second !== cachedSecond) {
    const full = new Date(time).toISOString();
    // Years 0000-9999 only: beyond them the year has six digits and a sign, and the text is not cached.
    if (full.length !== 24) return full;
    cachedSecond = second;
    cachedHead = full.slice(0, 20);
  }
  const milli = time - second * 1000;
  return `${cachedHead}${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`;
}
