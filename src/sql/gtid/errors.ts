// One error type for every malformed GTID text, so callers can tell bad server output from their own bugs.

/** Thrown by the GTID parsers; `part` is the piece of `input` that could not be read. */
export class GtidParseError extends Error {
  override readonly name = 'GtidParseError';
  constructor(
    readonly input: string,
    readonly part: string,
    problem: string,
  ) {
    super(`invalid GTID text ${JSON.stringify(shorten(input))}: ${problem}`);
  }
}

/** Long executed sets would drown the message; the bad part is named separately anyway. */
function shorten(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
