#!/usr/bin/env bash
# The third-party path end to end, with only the installed SDK: install nasx into a
# temporary prefix, generate one plugin of each kind with nasx-new-plugin, build each
# out of tree with plain CMake against find_package(nasx), drop the .so files into a
# plugin folder and run them through the installed host: the generated space searched by
# darts, enas, random, evolution and naswot and selected by perturbation, with no change
# to nasx; the generated strategy's own kill-and-resume test (ctest).
#   out_of_tree_plugins.sh BUILD_DIR
set -euo pipefail
build="$(cd "$1" && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/nasx-oot.XXXXXX")"
trap 'status=$?; if [[ $status -eq 0 ]]; then rm -rf "$work"; else echo "kept $work"; fi' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

prefix="$work/prefix"
cmake --install "$build" --prefix "$prefix" > "$work/install.log"
nasx="$prefix/bin/nasx"
[[ -x "$nasx" && -x "$prefix/bin/nasx-new-plugin" ]] || fail "the install has no nasx or nasx-new-plugin"
[[ -f "$prefix/lib/cmake/nasx/nasxConfig.cmake" ]] || fail "no CMake package installed"

mkdir -p "$work/plugins"
for kind in strategy selector pruner scorer space; do
  name="oot_$kind"
  "$prefix/bin/nasx-new-plugin" "$name" --kind "$kind" --dir "$work/$kind" > /dev/null
  # CMAKE_PREFIX_PATH names the install only; nothing of the source tree is visible.
  cmake -S "$work/$kind" -B "$work/$kind/build" -DCMAKE_PREFIX_PATH="$prefix" \
    > "$work/$kind/configure.log" 2>&1 || { cat "$work/$kind/configure.log"; fail "configure $kind"; }
  cmake --build "$work/$kind/build" > "$work/$kind/build.log" 2>&1 ||
    { cat "$work/$kind/build.log"; fail "build $kind"; }
  cp "$work/$kind/build/nasx_${kind}_${name}.so" "$work/plugins/"
  echo "built nasx_${kind}_${name}.so out of tree"
done

# A second generation into the same folder is refused; a bad name is refused.
if "$prefix/bin/nasx-new-plugin" oot_strategy --kind strategy --dir "$work/strategy" 2>/dev/null; then
  fail "nasx-new-plugin overwrote a project"
fi
if "$prefix/bin/nasx-new-plugin" Bad-Name --kind strategy --dir "$work/bad" 2>/dev/null; then
  fail "nasx-new-plugin accepted a bad name"
fi

list="$("$nasx" plugins list --plugin-path "$work/plugins")"
for name in oot_strategy oot_selector oot_pruner oot_scorer oot_space darts magnitude; do
  grep -q "^$name " <<< "$list" || { echo "$list"; fail "plugins list lacks $name"; }
done

run() {  # run KIND: the generated example through the installed host
  local kind="$1"
  (cd "$work/$kind" && "$nasx" run example.toml --plugin-path "$work/plugins" --out "$work/run-$kind") \
    > "$work/run-$kind.log" 2>&1 || { cat "$work/run-$kind.log"; fail "run of the $kind example"; }
  [[ -s "$work/run-$kind/genotype.txt" && -s "$work/run-$kind/summary.json" ]] ||
    fail "the $kind example left no answer"
}
run strategy
grep -q '"strategy": "oot_strategy"' "$work/run-strategy/summary.json" || fail "strategy not used"
grep -q '"evaluated": ' "$work/run-strategy/summary.json" || fail "the hill climber measured nothing"
# A run started with --plugin-path and killed resumes without it: the folder remembers.
(cd "$work/strategy" && NASX_KILL_AT=checkpoint "$nasx" run example.toml \
  --plugin-path "$work/plugins" --out "$work/killed-strategy") > "$work/killed.log" 2>&1 &&
  fail "NASX_KILL_AT=checkpoint did not stop the run"
grep -qx "$work/plugins" "$work/killed-strategy/plugin_paths.txt" ||
  fail "the run folder does not remember --plugin-path"
"$nasx" resume "$work/killed-strategy" > "$work/resumed.log" 2>&1 ||
  { cat "$work/resumed.log"; fail "resume without --plugin-path"; }
grep -q '"strategy": "oot_strategy"' "$work/killed-strategy/summary.json" ||
  fail "the resumed run did not finish"
# The generated strategy's own test: killed with SIGKILL and resumed, it ends as an
# uninterrupted run (its state listed in own_state()).
ctest --test-dir "$work/strategy/build" --output-on-failure > "$work/strategy-ctest.log" 2>&1 ||
  { cat "$work/strategy-ctest.log"; fail "the generated strategy's kill-and-resume test"; }
run selector
grep -q '"selected_by": "oot_selector"' "$work/run-selector/summary.json" || fail "selector not used"
run scorer
grep -q '"evaluator": "score:oot_scorer"' "$work/run-scorer/summary.json" || fail "scorer not used"
grep -q '"score"' "$work/run-scorer/evaluations.jsonl" || fail "no scores logged"
# The pruner on an ensemble of the strategy run's best architectures.
"$nasx" ensemble "$work/run-strategy" --members 3 --pruners oot_pruner,keep_all \
  --plugin-path "$work/plugins" --set train.epochs=1 --set train.channels=4 \
  --set train.layers=1 > "$work/ensemble.log" 2>&1 ||
  { cat "$work/ensemble.log"; fail "ensemble with the generated pruner"; }
grep -q 'oot_pruner' "$work/run-strategy/ensemble/summary.json" || fail "pruner not in the summary"
# The generated space, searched by strategies of every kind and selected by perturbation.
run space
grep -q '"space": "oot_space"' "$work/run-space/summary.json" || fail "space not used"
search_space() {  # search_space NAME SETTINGS...: the space example with another strategy
  local name="$1"
  shift
  (cd "$work/space" && "$nasx" run example.toml --plugin-path "$work/plugins"     --out "$work/space-$name" "$@") > "$work/space-$name.log" 2>&1 ||
    { cat "$work/space-$name.log"; fail "$name on the generated space"; }
  [[ -s "$work/space-$name/genotype.txt" ]] || fail "$name on the generated space: no answer"
  echo "searched the generated space with $name: $(cat "$work/space-$name/genotype.txt")"
}
search_space enas --set search='{strategy = "enas", epochs = 2, controller_samples = 8, samples_per_update = 4, reward_batch = 16, final_samples = 4}'
search_space random --set search='{strategy = "random", supernet_epochs = 1, candidates = 6}'
search_space evolution --set search='{strategy = "evolution", supernet_epochs = 1, population = 3, cycles = 6}'
search_space naswot --set search='{strategy = "naswot", samples = 6}' --set evaluator.score_batch=16
search_space perturbation --set select='{selector = "perturbation", tune_epochs = 1, steps_per_epoch = 2, eval_batches = 1}'
grep -q '"selected_by": "perturbation"' "$work/space-perturbation/summary.json" ||
  fail "perturbation did not select on the generated space"
echo "out-of-tree plugins: all five kinds built against the installed SDK and ran"
