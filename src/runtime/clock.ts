// The Clock port: the runtime's only source of "now" (tests may pass a fake one).

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
