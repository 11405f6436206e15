#!/usr/bin/env bash
# docs/configuration.md stays true: every row `dialogd --config-doc` prints
# from the configuration table appears in it.
source "$(dirname "$0")/lib.sh"
"$DIALOGD" --config-doc >"$T_DIR/doc.md"
missing=0
while IFS= read -r line; do
  [[ -z "$line" ]] && continue
  grep -qxF -- "$line" "$SRC_DIR/docs/configuration.md" || { echo "not in docs/configuration.md: $line"; missing=1; }
done <"$T_DIR/doc.md"
((missing == 0)) || fail "docs/configuration.md is out of date: regenerate it with dialogd --config-doc"
# --check-config names the key it refuses, and accepts a good file
printf '[smpp]\nport = 70000\n' >"$T_DIR/bad.ini"
expect_exit 2 "$DIALOGD" --check-config --config "$T_DIR/bad.ini"
expect_grep 'bad.ini:2: \[smpp\] port: 70000 is out of range 1..65535'
printf '[smpp]\nport = 2775\npassword = secret ; never logged\n[service]\nlanguage = en\n' >"$T_DIR/good.ini"
expect_exit 0 "$DIALOGD" --check-config --config "$T_DIR/good.ini"
expect_exit 2 "$DIALOGD" --no-such-flag
DIALOG_CONFIG="$T_DIR/bad.ini" expect_exit 2 "$DIALOGD" --check-config
pass
