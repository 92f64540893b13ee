/**
 * Profile files. A .ggmlprof file is either a container (format.ts, docs/ggmlprof.md: what `record`
 * saves) or the probe helper's raw stream (old recordings, and the live file during a run); every
 * reader goes through loadProfile() or loadRecording(), which tell them apart by their magic.
 */
import { readFile, rename, rm, writeFile } from "node:fs/promises";
import { decodeContainer, encodeContainer, isContainer, type ContainerMeta, type WriteOptions } from "./format";
import { buildProfile, type Profile } from "./model";
import { decodeStream, ProfileFormatError, type DecodedStream } from "./stream";

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

/** A recording as read from a file: its decoded tables, the profile built from them, its metadata. */
export interface Recording {
  stream: DecodedStream;
  profile: Profile;
  /** The container's metadata; undefined for a raw stream. */
  meta: ContainerMeta | undefined;
}

async function readBytes(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new ProfileReadError(readFailure(path, err as NodeJS.ErrnoException));
  }
}

function decodeAny(bytes: Uint8Array): { stream: DecodedStream; meta: ContainerMeta | undefined } {
  if (isContainer(bytes)) return decodeContainer(bytes);
  return { stream: decodeStream(bytes), meta: undefined };
}

/**
 * Reads a recording. Throws ProfileReadError when the file cannot be read and ProfileFormatError
 * (message prefixed with the path) when it is not a readable profile.
 */
export async function loadRecording(path: string): Promise<Recording> {
  const bytes = await readBytes(path);
  try {
    const { stream, meta } = decodeAny(bytes);
    return { stream, profile: buildProfile(stream), meta };
  } catch (err) {
    if (err instanceof ProfileFormatError) throw new ProfileFormatError(`${path}: ${err.message}`);
    throw err;
  }
}

/** Reads and decodes a profile file (a container or a raw stream). */
export async function loadProfile(path: string): Promise<Profile> {
  return (await loadRecording(path)).profile;
}

/**
 * Rewrites a raw stream file as a container, in place (through a temporary file, so that a failed
 * conversion leaves the raw stream as it was). Returns the recording; a file that already is a
 * container is left alone.
 */
export async function convertToContainer(path: string, options: WriteOptions): Promise<Recording> {
  const recording = await loadRecording(path);
  if (!recording.meta) await saveContainer(path, recording.stream, options);
  return recording;
}

/** Writes a recording as a container, replacing `path` only once the whole file is written. */
export async function saveContainer(path: string, stream: DecodedStream, options: WriteOptions): Promise<void> {
  const temporary = `${path}.converting`;
  try {
    await writeFile(temporary, encodeContainer(stream, options));
    await rename(temporary, path);
  } catch (err) {
    await rm(temporary, { force: true });
    throw err;
  }
}
