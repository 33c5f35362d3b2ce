/** Wall-clock milliseconds with sub-millisecond resolution (slot ages cross processes). */
export const wallNow = (): number => performance.timeOrigin + performance.now();
