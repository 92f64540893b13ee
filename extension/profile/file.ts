/**
 * Profile files. For now a .ggmlprof file is the probe helper's raw stream; every reader goes
 * through loadProfile() so that the file format can change in one place.
 */
import { readFile } from "node:fs/promises";
import { buildProfile, type Profile } from "./model";
import { decodeStream, ProfileFormatError } from "./stream";

/** The file could not be read at all (missing, a directory, no permission, too large). */
export class ProfileReadError extends Error {
  override name = "ProfileReadError";
}

function readFailure(path: string, err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case "ENOENT":
      return `${path}: no such file`;
    case "EISDIR":
      return `${path}: is a directory, not a profile`;
    case "EACCES":
    case "EPERM":
      return `${path}: permission denied`;
    default:
      return `${path}: cannot read it: ${err.message}`;
  }
}

/**
 * Reads and decodes a profile file. Throws ProfileReadError when it cannot be read and
 * ProfileFormatError (message prefixed with the path) when it is not a readable profile.
 */
export async function loadProfile(path: string): Promise<Profile> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new ProfileReadError(readFailure(path, err as NodeJS.ErrnoException));
  }
  try {
    return buildProfile(decodeStream(bytes));
  } catch (err) {
    if (err instanceof ProfileFormatError) throw new ProfileFormatError(`${path}: ${err.message}`);
    throw err;
  }
}
