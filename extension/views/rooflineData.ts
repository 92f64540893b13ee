/** The roofline panel's data. No `vscode` import. */
import type { Profile } from "../profile/model";
import type { RooflineData } from "../../webview/protocol";

export function rooflineData(_profile: Profile, title: string): RooflineData {
  return { title, ceilings: [], points: [], notes: ["The roofline needs the op cost model and the machine's measured ceilings, which are not available yet."] };
}
