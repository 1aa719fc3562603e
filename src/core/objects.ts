/** The fields of `value` that are not `undefined`: an explicit `undefined` means "not given". */
export function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined)) as Partial<T>;
}
