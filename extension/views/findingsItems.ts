/**
 * The Findings node of the side bar's op table: the selected run's findings (profile/findings.ts),
 * ranked, each opening its evidence when clicked (the timeline filtered to the op, the roofline,
 * the kernel's source); its evidence links are its children.
 */
import * as vscode from "vscode";
import { findings, type Evidence, type Finding } from "../profile/findings";
import { cachedCeilings } from "../profile/machine";
import type { Profile } from "../profile/model";
import { OPEN_TIMELINE } from "./codeLens";
import { revealOpSource } from "./revealOp";

export const OPEN_EVIDENCE = "ggmlLens.openEvidence";
const OPEN_ROOFLINE = "ggmlLens.openRoofline";
const OPEN_OFFLOAD = "ggmlLens.openOffload";

export type FindingsItem = { kind: "findings" } | { kind: "finding"; finding: Finding } | { kind: "evidence"; evidence: Evidence };

export const FINDINGS_ROOT: FindingsItem = { kind: "findings" };

const cache = new WeakMap<Profile, Finding[]>();

/** The profile's findings, computed once per profile against this machine's cached ceilings. */
function findingsOf(profile: Profile): Finding[] {
  let list = cache.get(profile);
  if (!list) cache.set(profile, (list = findings(profile, cachedCeilings() ?? null)));
  return list;
}

export function isFindingsItem(item: unknown): item is FindingsItem {
  const kind = (item as { kind?: unknown }).kind;
  return kind === "findings" || kind === "finding" || kind === "evidence";
}

export function findingsChildren(item: FindingsItem, profile: Profile | undefined): FindingsItem[] {
  if (item.kind === "findings") return profile ? findingsOf(profile).map((finding): FindingsItem => ({ kind: "finding", finding })) : [];
  if (item.kind === "finding") return item.finding.evidence.map((evidence): FindingsItem => ({ kind: "evidence", evidence }));
  return [];
}

const EVIDENCE_ICONS: Record<Evidence["kind"], string> = { timeline: "graph-line", roofline: "graph-scatter", source: "symbol-function", offload: "split-horizontal" };

const ICONS: Record<Finding["severity"], string> = { high: "error", medium: "warning", low: "info", info: "circle-outline" };

export function findingsTreeItem(item: FindingsItem): vscode.TreeItem {
  if (item.kind === "findings") {
    const tree = new vscode.TreeItem("Findings", vscode.TreeItemCollapsibleState.Expanded);
    tree.iconPath = new vscode.ThemeIcon("lightbulb");
    tree.tooltip = "What this run shows, ranked by the share of op thread time each finding concerns";
    return tree;
  }
  if (item.kind === "evidence") {
    const tree = new vscode.TreeItem(evidenceLabel(item.evidence));
    tree.iconPath = new vscode.ThemeIcon(EVIDENCE_ICONS[item.evidence.kind]);
    tree.command = { title: "Open", command: OPEN_EVIDENCE, arguments: [item.evidence] };
    return tree;
  }
  const f = item.finding;
  const tree = new vscode.TreeItem(f.title, f.evidence.length ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None);
  tree.description = f.severity;
  tree.tooltip = new vscode.MarkdownString([`**${f.title}**`, "", ...f.details.map((d) => `- ${d}`)].join("\n"));
  tree.iconPath = new vscode.ThemeIcon(ICONS[f.severity]);
  if (f.evidence[0]) tree.command = { title: "Show the evidence", command: OPEN_EVIDENCE, arguments: [f.evidence[0]] };
  return tree;
}

function evidenceLabel(e: Evidence): string {
  if (e.kind === "timeline") return `Timeline: ${e.op}`;
  if (e.kind === "roofline") return `Roofline: ${e.class}`;
  if (e.kind === "offload") return `Offload: ${e.op}`;
  return `Source: ${e.symbol}`;
}

export async function openEvidence(e: Evidence): Promise<void> {
  if (e.kind === "timeline") await vscode.commands.executeCommand(OPEN_TIMELINE, { op: e.op, range: e.range });
  else if (e.kind === "roofline") await vscode.commands.executeCommand(OPEN_ROOFLINE, { op: e.class.split(" ")[0] });
  else if (e.kind === "offload") await vscode.commands.executeCommand(OPEN_OFFLOAD);
  else await revealOpSource(e.op);
}
