/**
 * Stands in for clipanion's Node platform module (see src/build.mjs): our colour depth is
 * fixed, and our commands write through their context, so no capture of process.stdout is needed.
 */
export function getDefaultColorDepth(): number {
  return 1;
}

export function getCaptureActivator(): null {
  return null;
}
