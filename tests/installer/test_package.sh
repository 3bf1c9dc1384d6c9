#!/usr/bin/env bash
# The .deb as a user meets it (issue 17, docs/packaging.md): build it (scripts/package: lintian
# clean), check its contents and metadata, install it with apt-get, run the installed binaries with
# the build tree out of reach and a fresh home, purge it, and check that nothing of it is left while
# the user's data is. Needs root (apt-get); scripts/test runs it last, DPO_TEST_PACKAGE=0 skips it.
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib/common.sh"
fail() { echo "error: package test: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "needs root (apt-get install); run it as root or skip with DPO_TEST_PACKAGE=0"
dpkg-query -W -f='${Status}' dpo-studio 2>/dev/null | grep -q "ok installed" &&
  fail "dpo-studio is already installed here; the test would replace and purge it"

deb=$("$DPO_ROOT/scripts/package" | tail -n 1)
work=$(mktemp -d)
out_of_reach="$DPO_BUILD_DIR.out-of-reach"
cleanup() {
  [ -d "$out_of_reach" ] && mv "$out_of_reach" "$DPO_BUILD_DIR"
  dpkg-query -W dpo-studio > /dev/null 2>&1 && apt-get purge -y -qq dpo-studio > /dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
cp "$deb" "$work/"
deb="$work/$(basename "$deb")"

dpo_log "contents (dpkg-deb -c)"
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|' > "$work/contents"
for path in /usr/bin/dpo /usr/bin/dpo-studio /usr/lib/x86_64-linux-gnu/dpo-studio/libdpo_spm_shim.so \
  /usr/share/dpo-studio/demo/model/model.safetensors /usr/share/dpo-studio/demo/model/config.json \
  /usr/share/dpo-studio/demo/preferences.jsonl /usr/share/dpo-studio/demo/tokenizer.model \
  /usr/share/dpo-studio/lessons/first-run.json \
  /usr/share/applications/io.github.dpostudio.studio.desktop \
  /usr/share/metainfo/io.github.dpostudio.studio.metainfo.xml \
  /usr/share/icons/hicolor/scalable/apps/io.github.dpostudio.studio.svg \
  /usr/share/icons/hicolor/48x48/apps/io.github.dpostudio.studio.png \
  /usr/share/icons/hicolor/256x256/apps/io.github.dpostudio.studio.png \
  /usr/share/man/man1/dpo.1.gz /usr/share/man/man1/dpo-train.1.gz /usr/share/man/man1/dpo-lesson-run.1.gz \
  /usr/share/man/man1/dpo-studio.1.gz /usr/share/bash-completion/completions/dpo \
  /usr/share/doc/dpo-studio/copyright /usr/share/doc/dpo-studio/changelog.gz; do
  grep -qx "$path" "$work/contents" || fail "$path is not in the package"
done
# One man page per command path of the CLI, and nothing from the build or the tests.
commands=$("$DPO_BUILD_DIR/bin/dpo" completion commands | wc -l)
pages=$(grep -c '^/usr/share/man/man1/dpo-.*\.1\.gz$' "$work/contents")
[ "$pages" -eq $((commands + 1)) ] || fail "$pages dpo-*.1 man pages for $commands commands (+ dpo-studio.1)"
grep -E 'test_|bench_|/include/|\.a$' "$work/contents" && fail "build or test files in the package"

dpo_log "metadata (dpkg-deb -I)"
dpkg-deb -I "$deb" > "$work/info"
version=$(sed -n 's/^project(dpo_studio VERSION \([0-9.]*\).*/\1/p' "$DPO_ROOT/CMakeLists.txt")
for field in "Package: dpo-studio" "Version: $version" "Section: science" "Architecture: amd64"; do
  grep -q "^ $field\$" "$work/info" || fail "dpkg-deb -I: no '$field'"
done
for dependency in libtorch libqt6widgets6 libqcustomplot libsentencepiece libopenblas0-openmp qt6-qpa-plugins; do
  grep '^ Depends:' "$work/info" | grep -q "$dependency" || fail "Depends lacks $dependency"
done

dpo_log "apt-get install ./$(basename "$deb")"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$deb" > "$work/apt.log" 2>&1 ||
  { cat "$work/apt.log" >&2; fail "apt-get install failed"; }

dpo_log "running the installed binaries (build tree moved out of reach, fresh home)"
mv "$DPO_BUILD_DIR" "$out_of_reach"
home="$work/home"
# The user's settings, as a studio session leaves them (--smoke writes none): purge must keep them.
mkdir -p "$home/.config/dpo-studio"
printf '[General]\nlastDataDir=%s\n' "$home" > "$home/.config/dpo-studio/dpo-studio.conf"
run() { (cd "$work" && env -i PATH=/usr/bin:/bin HOME="$home" QT_QPA_PLATFORM=offscreen "$@"); }
[ "$(command -v dpo)" = /usr/bin/dpo ] || fail "dpo is not /usr/bin/dpo"
run dpo --version | head -n 1 | grep -qx "dpo-studio $version, libtorch .*" || fail "dpo --version: $(run dpo --version)"
run dpo lesson list > "$work/lessons" || fail "dpo lesson list failed"
grep -q "first-run" "$work/lessons" || fail "dpo lesson list: no first-run lesson"
run dpo train --steps 3 --out "$work/run" > "$work/train.log" 2>&1 || { cat "$work/train.log" >&2; fail "dpo train --steps 3"; }
[ "$(wc -l < "$work/run/metrics.jsonl")" -eq 3 ] || fail "dpo train: not 3 metrics rows"
# The installed tokenizer through the shim in /usr/lib/<multiarch>/dpo-studio.
ids=$(echo "a preference pair" | run dpo tokenize --tokenizer /usr/share/dpo-studio/demo/tokenizer.model 2>&1) ||
  fail "dpo tokenize with the installed tokenizer: $ids"
[[ $ids =~ ^[0-9\ ]+$ ]] || fail "dpo tokenize printed '$ids', not token ids"
run dpo-studio --smoke > "$work/studio.log" 2>&1 || { cat "$work/studio.log" >&2; fail "dpo-studio --smoke"; }
# The demo model was used where the package put it: nothing unpacked into the user's cache.
ls -d "$home"/.cache/dpo-studio/demo-model-* 2> /dev/null && fail "the demo model was unpacked into ~/.cache"
ls "$home"/.local/share/dpo-studio/runs/* > /dev/null 2>&1 || fail "the studio's run is not under ~/.local/share/dpo-studio/runs"
ls "$home"/.cache/dpo-studio/reference/* > /dev/null 2>&1 || fail "no reference log-probs cached under ~/.cache/dpo-studio"
strings /usr/bin/dpo /usr/bin/dpo-studio | grep -F "$DPO_ROOT" && fail "an installed binary names the source tree"
# A path under 16 bytes is built from immediates and never shows in strings: also no object outside
# a tests/ or bench/ folder may be compiled with a macro naming the source tree.
awk -v root="$DPO_ROOT" '/"command":/ { cmd = $0 }
  /"file":/ && $0 !~ "\"" root "/([^\"]*/)?(tests|bench)/" && index(cmd, "\\\"" root) { print $0; bad = 1 }
  END { exit bad }' "$out_of_reach/compile_commands.json" || fail "a compile definition names the source tree"
if [ -f /usr/share/man/man1/dpo.1.gz ] && command -v man > /dev/null; then
  MANPAGER=cat man dpo-train 2> /dev/null | grep -q -- "--beta" || fail "man dpo-train does not show --beta"
fi
bash -c 'source /usr/share/bash-completion/completions/dpo && COMP_WORDS=(dpo tr) COMP_CWORD=1 && _dpo &&
  [ "${COMPREPLY[*]}" = train ]' || fail "bash completion of 'dpo tr'"
mv "$out_of_reach" "$DPO_BUILD_DIR"

dpo_log "apt-get purge dpo-studio"
apt-get purge -y -qq dpo-studio > "$work/purge.log" 2>&1 || { cat "$work/purge.log" >&2; fail "apt-get purge"; }
dpkg-query -W dpo-studio > /dev/null 2>&1 && fail "dpo-studio is still known to dpkg after purge"
while read -r path; do
  [ -z "$path" ] || [ "${path%/}" != "$path" ] && continue  # folders: shared ones stay
  [ -e "$path" ] && fail "$path is left after purge"
done < "$work/contents"
for dir in /usr/share/dpo-studio /usr/lib/x86_64-linux-gnu/dpo-studio /usr/share/doc/dpo-studio; do
  [ -e "$dir" ] && fail "$dir is left after purge"
done
for kept in "$home/.config/dpo-studio/dpo-studio.conf" "$home"/.local/share/dpo-studio/runs/* \
  "$home"/.cache/dpo-studio/reference/* "$work/run/metrics.jsonl"; do
  [ -e "$kept" ] || fail "the purge removed the user's $kept"
done
dpo_log "package test passed: $(basename "$deb")"
