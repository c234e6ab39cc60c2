#!/bin/sh
# The module list (L): one row a module with shape, format, bits and score,
# sorted by a column (o next column, O reverse) as htop and ncdu sort theirs;
# the cursor moves through it (j/k, G), pins from it, and L returns to the grid.
# Skips without tmux or the data.
. "$(dirname "$0")/tui_lib.sh"
start_wb 80 24
# rows: the list's lines (id shape format bits score), the cursor's marked >
rows() { screen | sed -n 's/^│\([> ][0-9][0-9]*\.[a-z]*\) \(.*\)││.*/\1 \2/p'; }
# sorted COLUMN FLAGS: the column of the shown rows is sorted as sort FLAGS sorts it
# (column 2, the shape RxC, as its product: the parameter count)
sorted() {
    rows | tr -d '>' | awk -v c="$1" '{ if (c == 2) { split($2, d, "x"); print d[1] * d[2] } else print $c }' > "$tmp/col"
    sort -c $2 "$tmp/col" 2>/dev/null
}

keys L
wait_for 'modules by layer' 10
screen_has '│ module +shape format +bits +kl:e2m1' || fail "no list header"
rows | head -1 | grep -Eq '^>0\.q +64x64 ' ||
    fail "the cursor is not on the first module (0.q)"
[ "$(rows | wc -l)" -ge 10 ] || fail "fewer than 10 list rows at 80x24"
screen_has '35 modules +o sort +O reverse +L grid' || fail "no list legend"
screen_has 'jk move +o sort' || fail "no list key hints"

# by name: the HF names put mlp.{down,gate,up} before self_attn.{k,o,q,v}
keys o
wait_for 'modules by name' 10
[ "$(rows | head -4 | tr -d '>' | awk '{ printf "%s ", $1 }')" = "0.down 0.gate 0.up 0.k " ] ||
    fail "name order: $(rows | head -4 | awk '{ printf "%s ", $1 }')"
keys o
wait_for 'modules by params \(v\)' 10
poll 5 "params order" sorted 2 -rn
keys o
wait_for 'modules by bits \(v\)' 10
poll 5 "bits order" sorted 4 -rg
keys o
wait_for 'modules by score \(v\)' 10
poll 5 "score order (most sensitive first)" sorted 5 -rg
keys O
wait_for 'modules by score─' 10
poll 5 "score order reversed" sorted 5 -g

# the cursor follows its module through a sort; j moves one row, the info pane follows
row2_marked() { rows | sed -n 2p | grep -q '^>'; }
keys g j
poll 5 "j to move the cursor to row 2" row2_marked
second=$(rows | sed -n 2p | awk '{ print $1 }')
l=${second#>}; l=${l%%.*}
screen_has "layers\.$l\." || fail "the module pane does not show layer $l of row 2 ($second)"

# pin from the list: fp32 (key 1), shown with ! and sorted first by bits
keys p 1
wait_for 'fp32!' 10
keys o o o o
wait_for 'modules by bits \(v\)' 10
rows | head -1 | grep -Eq '^>?[0-9]+\.[a-z]+ +[0-9]+x[0-9]+ fp32! +32\.00 ' || fail "the pinned fp32 module is not first by bits"

# G: the last row; the list scrolled (^ at the top right of the header)
keys G
wait_for '│ module .*\^│' 10
rows | tail -1 | grep -q '^>' || fail "G did not put the cursor on the last row"
keys L
wait_for 'sensitivity' 10
screen_lacks 'modules by' || fail "L did not return to the grid"
echo ok
