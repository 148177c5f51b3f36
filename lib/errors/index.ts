// Every error ccgate throws or answers, in one place.
export * from './oauth';
export * from './bearer';
export * from './rejection';
export * from './faults';
export * from './remote';
