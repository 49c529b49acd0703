# The tables of `make bench`, from the lines spec/bench/run.sh collects:
#   R KEY LABEL...     a row, in the order it ran
#   E KEY REASON...    the row could not run
#   V KEY FIG VALUE    one round's value (ops/s, MB/s, seconds, kB, bytes)
#   F KEY FIG          a round of that figure failed
#   B KEY              other processes were busy during the row (marked *)
#   S MIB              the size of the fio file
# awk -v vs="ROW..." (rows compared with the C reference, first that ran)
#     -v cref=ROW (the C reference) -v quick=0|1 -f report.awk RESULTS
# Each cell: median, ± half the range in % of the median, ratio to the
# plain directory. Fits 100 columns: labels 15, five cells of 17.

function fmt(v) {
	if (v >= 999.5e3) return sprintf("%.3gM", v / 1e6)
	if (v >= 9999.5) return sprintf("%.3gk", v / 1e3)
	if (v >= 99.95) return sprintf("%.0f", v)
	if (v >= 9.995) return sprintf("%.1f", v)
	return sprintf("%.2f", v)
}
function ratio(r) {
	if (r >= 99.5) return sprintf("%.0fx", r)
	if (r >= 9.995) return sprintf("%.1fx", r)
	return sprintf("%.2fx", r)
}
# display width: "±" is two bytes, one column
function width(s,   t) { t = s; return length(s) - gsub(/±/, "", t) }
function rpad(s, w) { while (width(s) < w) s = " " s; return s }
function lpad(s, w) { while (width(s) < w) s = s " "; return s }

# stats(KEY, FIG): sets med, lo, hi, cnt; 0 when there is nothing to show
function stats(key, fig,   s, n, a, i, j, t) {
	cnt = 0
	if ((key, fig) in bad || !((key, fig) in vals)) return 0
	n = split(vals[key, fig], a, " ")
	for (i = 2; i <= n; i++) # insertion sort
		for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
	cnt = n; lo = a[1] + 0; hi = a[n] + 0
	med = n % 2 ? a[(n + 1) / 2] + 0 : (a[n / 2] + a[n / 2 + 1]) / 2
	return 1
}
function median(key, fig) { return stats(key, fig) ? med : -1 }

# cell(KEY, FIG, KIND): KIND up (rate), down (seconds), mib (kB shown as
# MiB, ratio to the fio file), raw (no ratio)
function cell(key, fig, kind,   v, sp, r, p) {
	if (!stats(key, fig)) return rpad("-", 17)
	v = med
	sp = ""
	if (cnt > 1 && med > 0) sp = sprintf("±%.0f%%", 100 * (hi - lo) / 2 / med)
	if (width(sp) > 4) sp = "±99+" # wider than the column: 100% or more
	r = ""
	if (kind == "mib") {
		v = med / 1024
		if (fig == "rss_file" && fio_mib > 0) r = ratio(v / fio_mib)
	} else if ((kind == "up" || kind == "down") && key != "plain") {
		p = median("plain", fig) # (overwrites med)
		if (p > 0) r = ratio(v / p)
	}
	return rpad(fmt(v), 6) " " lpad(sp, 4) " " rpad(r, 5)
}

function header(title, note, n, i) {
	printf "\n%s\n", title
	if (note != "") printf "%s\n", note
	printf "%-15s", ""
	for (i = 1; i <= n; i++) printf "%s", lpad("  " head[i], 17)
	printf "\n"
}

# the row compared with the C reference: the first of vs that ran
# the row's name in the first column, * when others were busy during it
function lab(key) { return lpad(busy[key] ? substr(label[key], 1, 14) "*" : substr(label[key], 1, 15), 15) }

# A row's label for the "/ C" and target lines: "mirror all CPUs" is
# "all CPUs" there, so that "all CPUs / C" and "target all CPUs" fit.
function short(key,   s) { s = label[key]; if (s != "mirror") sub(/^mirror,? /, "", s); return s }

function vs_row(   a, n, i) {
	n = split(vs, a, " ")
	for (i = 1; i <= n; i++) if ((a[i] in ran) && !(a[i] in err)) return a[i]
	return ""
}

# table(N, KIND, TARGET_ROW, TARGET_VS): the rows, then "vs C" and target lines
function table(n, kind, trow, tvs,   k, i, line, v, c, r, ok, t, any) {
	for (k = 1; k <= nrows; k++) {
		key = order[k]
		line = lab(key)
		if (key in err) { print line "  -  " substr(err[key], 1, 78); continue }
		for (i = 1; i <= n; i++) line = line cell(key, fig[i], kind)
		print line
	}
	vr = vs_row()
	if (kind != "raw" && vr != "" && (cref in ran) && !(cref in err)) {
		line = lpad(substr(short(vr) " / C", 1, 15), 15); any = 0
		for (i = 1; i <= n; i++) {
			v = median(vr, fig[i]); c = median(cref, fig[i])
			if (v > 0 && c > 0) { line = line rpad(ratio(v / c), 17); any = 1 } else line = line rpad("", 17)
		}
		if (any) print line
	}
	if (quick) return # the targets are for full runs
	tr = trow == "vs" ? vr : trow
	if (tr == "" || !(tr in ran)) return
	line = lpad(substr("target " short(tr), 1, 15), 15); any = 0
	for (i = 1; i <= n; i++) {
		t = target[i]
		if (t == "") { line = line rpad("", 17); continue }
		any = 1
		# target[i]: ">=0.5" or "<=1.5" (ratio to plain) or ">=1.2C" (to C)
		c = (t ~ /C$/) ? median(cref, fig[i]) : (kind == "mib" ? fio_mib * 1024 : median("plain", fig[i]))
		v = median(tr, fig[i])
		lim = t; gsub(/[<>=C]/, "", lim)
		if (v < 0 || c <= 0) ok = "?"
		else {
			r = v / c
			ok = (t ~ /^>=/) ? (r >= lim ? "ok" : "NO") : (r <= lim ? "ok" : "NO")
		}
		line = line rpad(((t ~ /C$/) ? substr(t, 1, length(t) - 1) "x C " : t "x ") ok, 17)
	}
	if (any) print line
}

# columns("head:figure:target|..."): sets the columns of the next table
# (target empty: none) and returns how many there are.
function columns(spec,   parts, f, i, n) {
	n = split(spec, parts, "|")
	for (i = 1; i <= n; i++) {
		split(parts[i], f, ":")
		head[i] = f[1]; fig[i] = f[2]; target[i] = f[3]
	}
	return n
}

function section(title, kind, trow, spec,   n) {
	n = columns(spec)
	header(title, "", n)
	table(n, kind, trow)
}

$1 == "R" { key = $2; order[++nrows] = key; ran[key] = 1; $1 = $2 = ""; sub(/^ +/, ""); label[key] = $0; next }
$1 == "E" { key = $2; $1 = $2 = ""; sub(/^ +/, ""); err[key] = $0; next }
$1 == "V" { vals[$2, $3] = (($2, $3) in vals) ? vals[$2, $3] " " $4 : $4; next }
$1 == "F" { bad[$2, $3] = 1; next }
$1 == "B" { busy[$2] = 1; next }
$1 == "S" { fio_mib = $2; next }

END {
	section("METADATA, 1 client: operations/s (readdir: entries/s); x plain, higher is better", "up", "pt",
		"create:create.1:>=0.5|stat cold:stat.1:>=0.5|open+close:open.1:>=0.2|readdir:readdir.1:|unlink:unlink.1:>=0.5")
	section("METADATA, 4 clients at once, each in its own directory: total operations/s", "up", "vs",
		"create:create.4:>=1.2C|stat cold:stat.4:>=1.2C|open+close:open.4:>=1.2C|readdir:readdir.4:>=1.2C|unlink:unlink.4:>=1.2C")
	section("FILE DATA: MB/s; x plain, higher is better (reads from a warm cache)", "up", "pt",
		"write 1M+sync:seqwrite:>=0.95|read 1M warm:seqread:>=0.95|randread 4k:randread:>=0.95|O_DIRECT wr 4k:dwrite:>=0.95")
	section("REAL TREE: seconds; x plain, LOWER is better (all but untar on a cold cache)", "down", "pt",
		"untar+sync:untar:<=2.5|find:find:<=1.5|du -s:du:<=1.5|cat:cat:<=1.5|rm -rf:rm:<=2")

	n = columns("peak RSS MiB:hwm:|RSS w/ file:rss_file:<=1.3|bytes/inode:inode:")
	header("HOST MEMORY: peak (VmHWM) at the end; resident holding the fio file, x its size;",
		"             bytes per inode the kernel knows (a fresh mount, creat+stat of many files)", n)
	for (k = 1; k <= nrows; k++) {
		key = order[k]
		line = lab(key)
		if (key == "plain") continue
		if (key in err) { print line "  -  " substr(err[key], 1, 78); continue }
		line = line cell(key, "hwm", "mib") cell(key, "rss_file", "mib") cell(key, "inode", "raw")
		print line
	}
	if (!quick && ("memfs" in ran) && !("memfs" in err) && stats("memfs", "rss_file"))
		printf "%s%s\n", lpad("target memfs", 15) rpad("", 17), rpad("<=1.3x " (med / 1024 / fio_mib <= 1.3 ? "ok" : "NO"), 17)
}
