#!/bin/sh
# The first run, as the README's main command has it (tmux, 100x30, an empty
# score cache, no --scores): on both real models the workbench starts fisher
# scoring at once and shows its phase and progress; the heatmap and an
# allocation appear while it runs (previews from the windows done so far),
# and stay when the score file is written; S then computes kl with its phase, module count, rate and ETA
# (cancelled here); the next start finds the scores in the cache.
. "$(dirname "$0")/tui_lib.sh"
need_tmux
need_data
need_files "not found" "$H656K/config.json"
setup_tmp
start_shell 100 30
typ "echo MARK-BEFORE"; keys Enter

first_run() { # MODEL-ARGS...: one workbench session from an empty cache
    typ "'$BIN' $* --text '$TEXT' --eval-tokens 2048; echo EXIT=\$?"; keys Enter
    wait_for 'first run: computing fisher scores|\] fisher |scores written to' 20
    # until the file is written: some screen shows the fisher phase and an allocation at once
    saw=0 i=0
    while [ $i -lt 600 ]; do
        s=$(screen)
        if printf '%s\n' "$s" | grep -Eq '\] fisher ' && printf '%s\n' "$s" | grep -Eq 'avg [0-9.]+ b/w'; then saw=1; fi
        printf '%s\n' "$s" | grep -q 'scores written to' && break
        sleep 0.1
        i=$((i + 1))
    done
    [ "$saw" = 1 ] || fail "no allocation shown while the fisher scores were computed"
    wait_for 'scores written to' 60
    wait_for 'avg [0-9.]+ b/w' 10
    screen_lacks 'no scores' || fail "still no scores after scoring"
    keys S
    wait_for '\] kl [0-9]+/[0-9]+ modules +[0-9.]+/s +ETA [0-9]+:[0-9][0-9]' 60
    keys Escape
    wait_for 'score cancelled' 20
    keys q
    check_restored
}

first_run "'$MODEL' --tokenizer '$TOKZ'"
n=$(ls "$XDG_CACHE_HOME"/mxalloc/*.scores 2>/dev/null | wc -l)
[ "$n" = 1 ] || fail "want one score file in the cache after the first run, found $n"
first_run "'$H656K'"
n=$(ls "$XDG_CACHE_HOME"/mxalloc/*.scores 2>/dev/null | wc -l)
[ "$n" = 2 ] || fail "want two score files in the cache, found $n"

# Second start: the cached scores at once, no scoring job.
typ "clear; '$BIN' '$H656K' --text '$TEXT'; echo EXIT=\$?"; keys Enter
wait_for 'avg [0-9.]+ b/w' 20
screen_lacks 'first run|\] fisher ' || fail "scored again although the cache has the scores"
keys q
wait_for 'EXIT=0' 20
echo "ok: first run scores by itself on both models, kl shows its progress, the cache is reused"
