// The styles of an HTML report (and of `mmuwasm serve`'s page), inline in the page.
export const REPORT_CSS = `
.mmr { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2937; }
.mmr h1 { font-size: 19px; margin: 0; word-break: break-all; }
.mmr h2 { font-size: 15px; margin: 0 0 8px; }
.mmr h3 { font-size: 13px; margin: 12px 0 6px; }
.mmr-head { display: flex; gap: 14px; align-items: center; margin-bottom: 12px; }
.mmr-verdict { font-weight: 700; font-size: 15px; padding: 10px 14px; border-radius: 8px; color: #fff; letter-spacing: .04em; }
.mmr-verdict.pass { background: #15803d; } .mmr-verdict.fail { background: #b91c1c; } .mmr-verdict.error { background: #a16207; }
.mmr-vcount { font-weight: 700; font-size: 13px; padding: 6px 10px; border-radius: 8px; color: #b91c1c; border: 2px solid #b91c1c; }
.mmr-stalelabel { font-size: 10px; font-weight: 600; fill: #b91c1c; pointer-events: none; }
.mmr-sub { color: #4b5563; font-size: 13px; }
.mmr-card { background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; padding: 12px 14px; margin: 0 0 12px; box-shadow: 0 1px 2px rgba(0,0,0,.04); }
.mmr-table { border-collapse: collapse; width: 100%; font-size: 13px; }
.mmr-table th { text-align: left; font-weight: 600; color: #4b5563; border-bottom: 1px solid #e5e7eb; padding: 4px 6px; }
.mmr-table td { border-bottom: 1px solid #f3f4f6; padding: 5px 6px; vertical-align: top; }
.mmr-violations td:nth-child(-n+4) { white-space: nowrap; }
.mmr-vrow { cursor: pointer; } .mmr-vrow:hover { background: #fef2f2; } .mmr-vrow.sel { background: #fee2e2; }
.mmr-kind { background: #b91c1c; color: #fff; border-radius: 4px; padding: 1px 6px; font-size: 12px; white-space: nowrap; }
.mmr-why { color: #374151; margin-top: 3px; } .mmr-fix { margin-top: 3px; color: #1d4ed8; } .mmr-fix.none { color: #6b7280; }
.mmr-link { color: #b91c1c; white-space: nowrap; }
.mmr-none, .mmr-dim { color: #6b7280; }
.mmr-tlwrap { position: relative; overflow: hidden; }
.mmr-tools { display: flex; gap: 6px; align-items: center; margin-bottom: 6px; flex-wrap: wrap; }
.mmr-tools button { border: 1px solid #d1d5db; background: #f9fafb; border-radius: 5px; padding: 2px 10px; cursor: pointer; font-size: 13px; }
.mmr-hint, .mmr-omitted { color: #6b7280; font-size: 12px; } .mmr-omitted { color: #a16207; }
.mmr-timeline { display: block; user-select: none; cursor: grab; }
.mmr-lane.cpu { fill: #f8fafc; } .mmr-lane.cpu.odd { fill: #f1f5f9; } .mmr-lane.device { fill: #f0fdfa; } .mmr-lane.trace { fill: #fafaf9; }
.mmr-lanelabel { font-size: 12px; font-weight: 600; fill: #334155; }
.mmr-axis text { font-size: 10px; fill: #6b7280; text-anchor: middle; } .mmr-grid { stroke: #e5e7eb; stroke-dasharray: 2 3; }
.mmr-opbar { fill: #dbeafe; stroke: #3b82f6; } .mmr-opbar.setup { fill: #f5f5f4; stroke: #a8a29e; }
.mmr-parked { fill: url(#mmr-hatch); stroke: #6366f1; stroke-dasharray: 3 2; }
.mmr-wait { fill: #fed7aa; stroke: #ea580c; }
.mmr-step { stroke: #1e3a8a; stroke-width: 1.5; } .mmr-step.parked { stroke: #6366f1; stroke-width: 2.5; }
.mmr-steplabel { font-size: 10px; fill: #1e3a8a; } .mmr-steplabel.resume { fill: #4338ca; }
.mmr-oplabel { font-size: 11px; font-weight: 600; fill: #1e3a8a; pointer-events: none; }
.mmr-access { fill: #bbf7d0; stroke: #16a34a; } .mmr-access.faulty { stroke: #f59e0b; stroke-width: 1.5; } .mmr-acclabel { font-size: 10px; fill: #14532d; pointer-events: none; }
.mmr-fault { fill: #f59e0b; } .mmr-segv { fill: #b91c1c; font-size: 14px; font-weight: 700; }
.mmr-switch { stroke: #64748b; stroke-width: 2; } .mmr-switchlabel { font-size: 10px; fill: #475569; }
.mmr-flushmark { fill: #ede9fe; stroke: #7c3aed; stroke-width: 1.5; } .mmr-flushmark.full { fill: #c4b5fd; }
.mmr-flushlabel { font-size: 10px; fill: #5b21b6; }
.mmr-ipi { stroke: #7c3aed; stroke-width: 2; } .mmr-ipi.far { stroke-width: .7; stroke-opacity: .6; }
.mmr-notify { fill: #99f6e4; stroke: #0d9488; } .mmr-notifyarrow { stroke: #0d9488; stroke-dasharray: 3 2; }
.mmr-stale { cursor: pointer; } .mmr-stalemark { fill: #dc2626; stroke: #fff; stroke-width: 1.5; } .mmr-stale.sel .mmr-stalemark { stroke: #111827; stroke-width: 2.5; }
.mmr-staletext { fill: #fff; font-size: 12px; font-weight: 700; text-anchor: middle; pointer-events: none; }
.mmr-tip { position: absolute; display: none; max-width: 330px; background: #111827; color: #f9fafb; font: 12px/1.4 ui-monospace, Menlo, monospace; padding: 6px 8px; border-radius: 6px; pointer-events: none; word-break: break-word; z-index: 5; }
.mmr-legend { display: flex; gap: 12px; flex-wrap: wrap; font-size: 12px; color: #4b5563; margin-top: 6px; }
.mmr-leg i { display: inline-block; width: 12px; height: 10px; margin-right: 4px; vertical-align: -1px; border-radius: 2px; }
.mmr-leg i.op { background: #dbeafe; border: 1px solid #3b82f6; } .mmr-leg i.parked { background: repeating-linear-gradient(45deg, #c7d2fe 0 3px, #fff 3px 6px); border: 1px dashed #6366f1; }
.mmr-leg i.wait { background: #fed7aa; border: 1px solid #ea580c; } .mmr-leg i.access { background: #bbf7d0; border: 1px solid #16a34a; }
.mmr-leg i.fault { background: #f59e0b; } .mmr-leg i.flush { background: #c4b5fd; border: 1px solid #7c3aed; transform: rotate(45deg); width: 9px; height: 9px; }
.mmr-leg i.ipi { background: #7c3aed; height: 2px; vertical-align: 3px; } .mmr-leg i.notify { background: #99f6e4; border: 1px solid #0d9488; border-radius: 50%; }
.mmr-leg i.stale { background: #dc2626; border-radius: 50%; }
.mmr-moment { margin: 0 0 8px; }
.mmr-cached tr.bad td { background: #fef2f2; color: #991b1b; } .mmr-cached tr.ok td:last-child { color: #15803d; }
.mmr-walk { font: 12px/1.6 ui-monospace, Menlo, monospace; margin: 3px 0; }
.mmr-walkstep { display: inline-block; background: #f3f4f6; border-radius: 4px; padding: 0 5px; margin: 0 4px 2px 0; }
.mmr-walkstep.np { background: #fee2e2; } .mmr-walkstep.leaf { background: #dcfce7; } .mmr-maps { font-weight: 600; }
.mmr-charts { display: flex; flex-wrap: wrap; gap: 18px; }
.mmr-charttitle { font-size: 12px; font-weight: 600; fill: #374151; } .mmr-chartlabel { font-size: 11px; fill: #4b5563; } .mmr-chartval { font-size: 10px; fill: #374151; }
.mmr-bar.s0 { fill: #86efac; } .mmr-bar.s1 { fill: #22c55e; } .mmr-bar.s2 { fill: #15803d; } .mmr-bar.s3 { fill: #f87171; }
.mmr-bar.s4 { fill: #60a5fa; } .mmr-bar.s5 { fill: #a78bfa; } .mmr-bar.s6 { fill: #7c3aed; } .mmr-bar.s7 { fill: #c4b5fd; } .mmr-bar.s8 { fill: #f59e0b; }
.mmr-list { margin: 0; padding-left: 18px; font-size: 13px; } .mmr-exp.ok { color: #15803d; } .mmr-exp.bad { color: #b91c1c; } .mmr-exp.na { color: #6b7280; }
`;
