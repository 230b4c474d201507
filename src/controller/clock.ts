// The clock lives in util (the store and the kubectl plugin use it too); kept here for existing imports.
export * from '../util/clock.js';
