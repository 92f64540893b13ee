/** The message that brings a panel the data of a profile. No `vscode` import. */
import * as path from "node:path";
import type { ProfileEntry } from "../session/store";
import type { HostMessage, PanelKind } from "../../webview/protocol";
import { timelineData } from "./timelineData";
import { graphData } from "./graphData";
import { expertsData } from "./expertsData";
import { rooflineData } from "./rooflineData";
import { countersData } from "./countersData";
import { offloadData } from "./offloadData";
import { cachedCeilings } from "../profile/machine";

export interface PanelState {
  /** Graph panel: the structure chosen (else the one run most). */
  graphSignature?: string;
}

export function panelMessage(kind: PanelKind, entry: Pick<ProfileEntry, "path" | "profile" | "live">, state: PanelState = {}): HostMessage {
  const title = path.basename(entry.path);
  switch (kind) {
    case "timeline":
      return { type: "timeline", data: timelineData(entry.profile, title, entry.live) };
    case "graph":
      return { type: "graph", data: graphData(entry.profile, title, state.graphSignature) };
    case "experts":
      return { type: "experts", data: expertsData(entry.profile, title) };
    case "roofline":
      return { type: "roofline", data: rooflineData(entry.profile, title, cachedCeilings() ?? null) };
    case "counters":
      return { type: "counters", data: countersData(entry.profile, title) };
    case "offload":
      return { type: "offload", data: offloadData(entry.profile, title) };
  }
}
