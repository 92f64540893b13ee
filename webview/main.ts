// Webview entry point: the panels are drawn here (timeline, roofline, graph, MoE, offload).
const root = document.getElementById("root");
if (root) root.textContent = "GGML Lens";
