#!/bin/sh
# One current allocation, whatever made it (issue 13, points 2 and 3), on both
# real models. Script mode: a dMX search's result becomes current and is kept
# as dmx@5.00; eval measures it and export writes it, and both equal the CLI's
# `anneal --out` + `ppl --config` for the same seed; `use ilp` and `use
# dmx@5.00` switch. Then on the screen (tmux): the header names the current
# allocation and shows a measurement only beside the allocation it measured.
. "$(dirname "$0")/tui_lib.sh"
need_data
need_files "not found" "$H656K/config.json"
setup_tmp

# parity MODEL-ARGS...: the workbench's search, measure and export vs the CLI's
parity() {
    cat > "$tmp/s.txt" <<EOS
score --method fisher
budget 5
anneal dmx --steps 60 --refine 0 --seed 3
eval
export $tmp/wb.json
cands
use ilp
cands
use dmx@5.00
formats mxfp4,mxfp6_e2m3,mxfp8_e4m3
group qkv on
status
EOS
    "$BIN" "$@" --text "$TEXT" --ctx 128 --eval-tokens 4096 --script "$tmp/s.txt" > "$tmp/out" 2> "$tmp/err" ||
        { cat "$tmp/err"; fail "script exited $?"; }
    grep -q '^dmx@5.00 (current) avg_bits [0-9.]* projected_ppl [0-9.]* measured_ppl [0-9.]*$' "$tmp/out" ||
        { cat "$tmp/out"; fail "the search's result is not the current, measured candidate"; }
    grep -q '^dmx@5.00 avg_bits .* measured_ppl [0-9.]*$' "$tmp/out" || fail "use ilp did not leave dmx@5.00"
    grep -q '^current allocation: dmx@5.00' "$tmp/err" || fail "use dmx@5.00 did not switch back"
    grep -Eq "^allocation ilp  method fisher \(of fisher\)  formats e4m3,e2m3,e2m1  groups qkv  target mx  text $TEXT \([0-9]+ tokens, ctx 128\)  scores .*/[0-9a-f]+\.scores$" "$tmp/out" ||
        { grep '^allocation' "$tmp/out"; fail "status does not say what is in use"; }
    wb_ppl=$(sed -n 's/^eval: avg_bits [0-9.]* measured_ppl \([0-9.]*\) .*/\1/p' "$tmp/out")
    "$BIN" anneal "$@" --text "$TEXT" --ctx 128 --tokens 4096 --search dmx --budget 5 --steps 60 --refine 0 \
        --seed 3 --out "$tmp/cli.json" > /dev/null 2>&1 || fail "mxalloc anneal failed"
    "$BIN" ppl "$@" --text "$TEXT" --ctx 128 --max-tokens 4096 --config "$tmp/cli.json" > "$tmp/ppl" 2>&1 ||
        fail "mxalloc ppl failed"
    cli_ppl=$(sed -n 's/^ppl *//p' "$tmp/ppl")
    [ -n "$wb_ppl" ] && [ "$wb_ppl" = "$cli_ppl" ] || fail "workbench measured '$wb_ppl', the CLI '$cli_ppl'"
    fmts() { tr -d ' \n' < "$1" | sed 's/.*"formats":{\([^}]*\)}.*/\1/'; }
    [ "$(fmts "$tmp/wb.json")" = "$(fmts "$tmp/cli.json")" ] || fail "exported formats differ from anneal --out"
    echo "ok: $1: workbench dmx@5.00 = CLI anneal --out, ppl $wb_ppl both"
}
parity "$MODEL" --tokenizer "$TOKZ"
parity "$H656K"

# The screen: the current allocation's name; the measurement only beside it.
need_tmux
make_scores
start_shell 120 36
typ "echo MARK-BEFORE"; keys Enter
typ "$(wb_cmd)"; keys Enter
wait_for 'ilp +avg [0-9.]+ b/w' 20
keys : ; typ "keep mine"; keys Enter
wait_for 'kept mine' 10
keys e
wait_for 'measured [0-9.]+' 60
keys Right
# the re-solved allocation is another one: the measurement leaves its line
# (waited for: 'ilp' may be on the line before the key is handled, under load)
poll 10 "the measurement to leave the line of another allocation" screen_lacks 'measured [0-9.]+'
wait_for 'ilp +avg' 10
keys : ; typ "use mine"; keys Enter
wait_for 'mine +avg .*measured [0-9.]+' 10
keys : ; typ "use nosuch"; keys Enter
wait_for "no candidate 'nosuch' \(ilp, mine\)" 10
screen_has '\?:help  scores s\.scores' || fail "the title does not name the score file"
keys : ; typ "status"; keys Enter
wait_for '^allocation mine  method kl \(of kl' 10
keys q
check_restored
echo "ok: the header names the current allocation and pairs the measurement with it"
