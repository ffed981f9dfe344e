/**
 * A context as a machine makes it: every field of T, the optional ones too (as `undefined`).
 * The compiled steps copy the context at each assign, and that copy stays V8's fast clone only
 * while a context keeps the fields it was made with (bench/analysis.md, eleventh session); typed
 * so, a field added to a machine's input or context cannot be left out of what makes it.
 */
export type EveryField<T> = { [K in keyof Required<T>]: T[K] };
