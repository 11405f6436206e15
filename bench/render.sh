#!/usr/bin/env bash
# Fill bench/performance.md.in with the figures of a `make bench` run.
#
#   bench/render.sh OUTDIR [TEMPLATE]
#
# Reads OUTDIR/figures.env (key=value lines written by bench/run-all.sh; the
# last value of a key wins), computes the derived figures (shares of the
# ceilings, bytes per dialog, ...) and the verdicts ("met" / "missed" / "not
# judged" when the population is smaller than the target names), and writes
# OUTDIR/performance.md. Can be re-run alone after editing the template.
#
# Placeholders in the template: {{key}} the value as it is; {{key:int}} a
# whole number with thousands separators; {{key:1}}, {{key:2}} with one or
# two decimals. A key without a value renders as "n/a" (and is listed on
# stderr).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: bench/render.sh OUTDIR [TEMPLATE]}
tpl=${2:-bench/performance.md.in}
[[ -s "$out/figures.env" ]] || { echo "render: no $out/figures.env (run bench/run-all.sh)" >&2; exit 1; }

awk '
function isnum(v) { return v ~ /^-?[0-9]+(\.[0-9]+)?$/ }
function has(k) { return (k in f) && isnum(f[k]) }
function maxk(a, b) { if (!has(a)) return b; if (!has(b)) return a; return f[a] + 0 >= f[b] + 0 ? a : b }
function verdict(ok) { return ok ? "**met**" : "**missed**" }
function commas(x,    s, neg, r) {
	s = sprintf("%.0f", x); neg = ""
	if (substr(s, 1, 1) == "-") { neg = "-"; s = substr(s, 2) }
	r = ""
	while (length(s) > 3) { r = "," substr(s, length(s) - 2) r; s = substr(s, 1, length(s) - 3) }
	return neg s r
}
function fmt(k, spec,    v) {
	if (k in f && f[k] == "" && k in may_be_empty) return ""
	if (!(k in f) || f[k] == "") { missing[k] = 1; return "n/a" }
	v = f[k]
	if (spec == "") return (k in raw) ? raw[k] : v
	if (!isnum(v)) return v
	if (spec == "int") return commas(v)
	if (spec ~ /^[0-9]$/) return sprintf("%." spec "f", v)
	return v
}
FNR == NR {
	i = index($0, "=")
	if (i > 1) f[substr($0, 1, i - 1)] = substr($0, i + 1)
	next
}
FNR == 1 {
	# ---- derived figures and verdicts ----
	# numbers compare as numbers from here on (raw[] keeps them as written)
	for (k in f) if (isnum(f[k])) { raw[k] = f[k]; f[k] = f[k] + 0 }
	big = 1000000
	may_be_empty["quick_note"] = 1
	if (f["mode"] == "QUICK")
		f["quick_note"] = "> **QUICK run** (`make bench QUICK=1`): shorter runs and smaller populations than the targets name; the verdicts that depend on a population say \"not judged\". Do not copy these figures into docs/performance.md."
	else
		f["quick_note"] = ""
	# relay saturation: the better of 1 and 4 sessions
	for (s = 1; s <= 4; s += 3) {
		if (has("relay_" s "_80000_rate") && has("pg_ceiling_rows_s") && f["pg_ceiling_rows_s"] > 0)
			f["relay_sat_pct_" s] = 100 * f["relay_" s "_80000_rate"] / f["pg_ceiling_rows_s"]
		if (has("relay_" s "_80000_rate") && has("sim_ceiling_rate") && f["sim_ceiling_rate"] > 0)
			f["relay_sim_pct_" s] = 100 * f["relay_" s "_80000_rate"] / f["sim_ceiling_rate"]
	}
	best = maxk("relay_1_80000_rate", "relay_4_80000_rate")
	if (has(best)) {
		f["relay_sat_best"] = f[best]
		f["relay_sat_best_sessions"] = best == "relay_1_80000_rate" ? 1 : 4
		f["v_relay_sat"] = verdict(f[best] >= 30000)
		if (has("pg_ceiling_rows_s") && f["pg_ceiling_rows_s"] > 0) {
			f["relay_sat_pct"] = 100 * f[best] / f["pg_ceiling_rows_s"]
			f["v_relay_pct"] = verdict(f["relay_sat_pct"] >= 50)
		}
		if (has("sim_ceiling_rate") && f["sim_ceiling_rate"] > 0)
			f["relay_sim_pct"] = 100 * f[best] / f["sim_ceiling_rate"]
	}
	worst = maxk("relay_1_10000_latency_p99_ms", "relay_4_10000_latency_p99_ms")
	if (has(worst)) {
		f["relay_p99_10k"] = f[worst]
		reached = has("relay_1_10000_rate") && f["relay_1_10000_rate"] >= 9900 && \
			  has("relay_4_10000_rate") && f["relay_4_10000_rate"] >= 9900
		if (!reached)
			f["v_relay_p99"] = "**missed** (10,000 msg/s not reached)"
		else
			f["v_relay_p99"] = verdict(f[worst] <= 20)
	}
	# command path: PostgreSQL CPU per completed dialog, and its share of a core
	for (w = 0; w < 2; w++) {
		p = w ? "commands_saturation_" : "commands_moderate_"
		if (has(p "cpu_s_postgres") && has(p "dialogs_completed") && f[p "dialogs_completed"] > 0)
			f[p "pg_ms_per_dialog"] = 1000 * f[p "cpu_s_postgres"] / f[p "dialogs_completed"]
		if (has(p "cpu_s_postgres") && has(p "wall_s") && f[p "wall_s"] > 0)
			f[p "pg_core_pct"] = 100 * f[p "cpu_s_postgres"] / f[p "wall_s"]
		if (has(p "cpu_s_dialogd") && has(p "wall_s") && f[p "wall_s"] > 0)
			f[p "dialogd_core_pct"] = 100 * f[p "cpu_s_dialogd"] / f[p "wall_s"]
		if (has(p "submits") && has(p "dialogs_completed") && f[p "dialogs_completed"] > 0)
			f[p "submits_per_dialog"] = f[p "submits"] / f[p "dialogs_completed"]
		if (has(p "dialogs_per_s"))
			f[p "commands_per_s"] = 2 * f[p "dialogs_per_s"]
	}
	# daily billing
	if (has("bill_first_run_s") && has("bill_pairs"))
		f["v_bill_first"] = f["bill_pairs"] >= big ? verdict(f["bill_first_run_s"] <= 20) : "not judged (" commas(f["bill_pairs"]) " dialogs)"
	if (has("bill_rerun_s") && has("bill_pairs"))
		f["v_bill_rerun"] = f["bill_pairs"] >= big ? verdict(f["bill_rerun_s"] <= 5) : "not judged (" commas(f["bill_pairs"]) " dialogs)"
	if (has("bill_first_run_s") && has("bill_pairs") && f["bill_first_run_s"] > 0)
		f["bill_us_per_participant_day"] = 1e6 * f["bill_first_run_s"] / (2 * f["bill_pairs"])
	if (has("bill_pairs"))
		f["bill_participant_days"] = 2 * f["bill_pairs"]
	if (has("bill_first_run_cluster_cpu_s") && has("bill_first_fees") && f["bill_first_fees"] > 0)
		f["bill_cpu_us_per_fee"] = 1e6 * f["bill_first_run_cluster_cpu_s"] / f["bill_first_fees"]
	if (has("bill_first_run_cluster_cpu_s") && has("cores") && f["cores"] > 0)
		f["bill_cpu_floor_s"] = f["bill_first_run_cluster_cpu_s"] / f["cores"]
	if (has("bill_first_fees") && has("bill_rerun_fees") && has("bill_pairs"))
		f["bill_check"] = (f["bill_first_fees"] == 2 * f["bill_pairs"] && f["bill_rerun_fees"] == 0 && \
				   (!has("bill_rerun_without_marker_fees") || f["bill_rerun_without_marker_fees"] == 0)) ? \
			"every fee charged once, the re-runs charged nothing" : "**unexpected**: fees charged " \
			f["bill_first_fees"] " then " f["bill_rerun_fees"] " and " f["bill_rerun_without_marker_fees"]
	# support look-up
	if (has("support_subscriber_show_p99_ms") && has("support_subs") && has("support_entries"))
		f["v_support"] = (f["support_subs"] >= big && f["support_entries"] >= 10 * big) ? \
			verdict(f["support_subscriber_show_p99_ms"] <= 50) : \
			"not judged (" commas(f["support_subs"]) " / " commas(f["support_entries"]) ")"
	# memory
	if (has("mem_rss_kb") && has("mem_base_rss_kb") && has("mem_pairs") && f["mem_pairs"] > 0) {
		f["mem_bytes_per_dialog"] = (f["mem_rss_kb"] - f["mem_base_rss_kb"]) * 1024 / f["mem_pairs"]
		f["v_mem"] = f["mem_pairs"] >= big ? verdict(f["mem_bytes_per_dialog"] <= 300) : \
			"not judged (" commas(f["mem_pairs"]) " dialogs)"
	}
	if (has("mem_pairs"))
		f["mem_subscribers"] = 2 * f["mem_pairs"]
}
{
	line = $0; res = ""
	while (match(line, /[{][{][a-z0-9_]+(:[a-z0-9]+)?[}][}]/)) {
		tok = substr(line, RSTART + 2, RLENGTH - 4)
		spec = ""
		c = index(tok, ":")
		if (c) { spec = substr(tok, c + 1); tok = substr(tok, 1, c - 1) }
		res = res substr(line, 1, RSTART - 1) fmt(tok, spec)
		line = substr(line, RSTART + RLENGTH)
	}
	print res line
}
END {
	n = 0
	for (k in missing) { list = list (n++ ? " " : "") k }
	if (n) print "render: no figure for: " list > "/dev/stderr"
}
' "$out/figures.env" "$tpl" >"$out/performance.md.tmp"
mv "$out/performance.md.tmp" "$out/performance.md"
echo "render: $out/performance.md"
