use super::copy::glob_match;
use super::dispatch::*;
use crate::build::dockerfile;
use rstest::rstest;
use std::collections::BTreeMap;
use std::time::Duration;

fn stage_after(src: &str, build_args: &[(&str, &str)]) -> (StageState, Vec<String>) {
    let df = dockerfile::parse(src).unwrap();
    let args: BTreeMap<String, Option<String>> = build_args
        .iter()
        .map(|(k, v)| (k.to_string(), Some(v.to_string())))
        .collect();
    let mut state = StageState::default();
    let mut texts = Vec::new();
    for step in &df.stages[0].steps {
        let instr = if step.instruction.kind().expands_variables() {
            expand_instruction(&step.instruction, &state.vars(), df.escape, step.line).unwrap()
        } else {
            step.instruction.clone()
        };
        let text = apply_metadata(&mut state, &instr, &args, &BTreeMap::new(), step.line).unwrap();
        texts.push(created_by_nop(&state.shell(), &text));
    }
    (state, texts)
}

#[rstest]
#[case("ENV A=b", "/bin/sh -c #(nop)  ENV A=b")]
#[case("ENV A b c", "/bin/sh -c #(nop)  ENV A=b c")]
#[case("LABEL x=\"a b\"", "/bin/sh -c #(nop)  LABEL x=a b")]
#[case("CMD [\"cat\",\"/f\"]", "/bin/sh -c #(nop)  CMD [\"cat\" \"/f\"]")]
#[case(
    "CMD echo hi",
    "/bin/sh -c #(nop)  CMD [\"/bin/sh\" \"-c\" \"echo hi\"]"
)]
#[case("EXPOSE 80 53/udp", "/bin/sh -c #(nop)  EXPOSE 80 53/udp")]
#[case("VOLUME /data /x", "/bin/sh -c #(nop)  VOLUME [/data /x]")]
#[case("WORKDIR /a\nWORKDIR b/../c", "/bin/sh -c #(nop)  WORKDIR /a/c")]
#[case(
    "SHELL [\"/bin/ash\", \"-eo\"]",
    "/bin/ash -eo #(nop)  SHELL [/bin/ash -eo]"
)]
#[case("ARG V=1", "/bin/sh -c #(nop)  ARG V=1")]
#[case("STOPSIGNAL SIGKILL", "/bin/sh -c #(nop)  STOPSIGNAL SIGKILL")]
#[case(
    "HEALTHCHECK --interval=5s --retries=3 CMD true",
    "/bin/sh -c #(nop)  HEALTHCHECK &{[\"CMD-SHELL\" \"true\"] \"5s\" \"0s\" \"0s\" \"0s\" '\\x03'}"
)]
fn history_reads_like_dockers(#[case] steps: &str, #[case] last: &str) {
    let (_, texts) = stage_after(&format!("FROM x\n{steps}\n"), &[]);
    assert_eq!(texts.last().unwrap(), last);
}

#[test]
fn entrypoint_clears_an_inherited_cmd_but_not_one_of_its_stage() {
    let (s, _) = stage_after("FROM x\nENTRYPOINT [\"e\"]\n", &[]);
    assert_eq!(s.config.cmd, None);
    let mut inherited = StageState::default();
    inherited.config.cmd = Some(vec!["sh".into()]);
    let df = dockerfile::parse("FROM x\nENTRYPOINT [\"e\"]\n").unwrap();
    apply_metadata(
        &mut inherited,
        &df.stages[0].steps[0].instruction,
        &BTreeMap::new(),
        &BTreeMap::new(),
        2,
    )
    .unwrap();
    assert_eq!(inherited.config.cmd, None);
    let (s, _) = stage_after("FROM x\nCMD [\"c\"]\nENTRYPOINT [\"e\"]\n", &[]);
    assert_eq!(s.config.cmd, Some(vec!["c".to_string()]));
}

#[test]
fn args_expand_and_env_overrides_them() {
    let (s, _) = stage_after(
        "FROM x\nARG FLAVOR=mild\nENV DISH=${FLAVOR}-soup\n",
        &[("FLAVOR", "spicy")],
    );
    assert_eq!(s.config.env, Some(vec!["DISH=spicy-soup".to_string()]));
    assert_eq!(s.run_args(), vec![("FLAVOR".into(), "spicy".into())]);
    let (s, _) = stage_after("FROM x\nARG A=1\nENV A=2\n", &[]);
    assert!(
        s.run_args().is_empty(),
        "ENV A hides ARG A from RUN's prefix"
    );
}

#[test]
fn a_bad_stopsignal_names_the_line() {
    let df = dockerfile::parse("FROM x\nSTOPSIGNAL SIGNOPE\n").unwrap();
    let mut s = StageState::default();
    let err = apply_metadata(
        &mut s,
        &df.stages[0].steps[0].instruction,
        &BTreeMap::new(),
        &BTreeMap::new(),
        2,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Dockerfile parse error line 2: Invalid signal: SIGNOPE"
    );
}

#[rstest]
#[case(0, "0s")]
#[case(500_000_000, "500ms")]
#[case(5_000_000_000, "5s")]
#[case(90_000_000_000, "1m30s")]
#[case(3_600_000_000_000, "1h0m0s")]
#[case(1_500_000_000, "1.5s")]
fn durations_print_as_go_prints_them(#[case] ns: u64, #[case] want: &str) {
    assert_eq!(go_duration(Duration::from_nanos(ns)), want);
}

#[rstest]
#[case("*.txt", "a.txt", true)]
#[case("*.txt", "a.md", false)]
#[case("a?c", "abc", true)]
#[case("[a-c]x", "bx", true)]
#[case("[^a-c]x", "bx", false)]
#[case("\\*", "*", true)]
#[case("*", "", true)]
fn wildcards_match_as_gos_filepath_match(
    #[case] pattern: &str,
    #[case] name: &str,
    #[case] want: bool,
) {
    assert_eq!(glob_match(pattern, name), want);
}

#[test]
fn a_run_of_only_a_heredoc_runs_its_body() {
    let df = dockerfile::parse("FROM x\nRUN <<EOF\necho a\necho b\nEOF\n").unwrap();
    let dockerfile::Instruction::Run(run) = &df.stages[0].steps[0].instruction else {
        panic!()
    };
    let dockerfile::Command::Shell(text) = &run.command else {
        panic!()
    };
    assert_eq!(run_script(text, &run.heredocs), "echo a\necho b\n");
    let df = dockerfile::parse("FROM x\nRUN cat <<A > /a\nalpha\nA\n").unwrap();
    let dockerfile::Instruction::Run(run) = &df.stages[0].steps[0].instruction else {
        panic!()
    };
    let dockerfile::Command::Shell(text) = &run.command else {
        panic!()
    };
    assert_eq!(run_script(text, &run.heredocs), "cat <<A > /a\nalpha\nA\n");
}

#[test]
fn a_file_copied_onto_a_directory_goes_into_it() {
    use super::copy::{apply, CopyPlan, Item, Ownership};
    let ctx = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    std::fs::write(ctx.path().join("f.txt"), "x").unwrap();
    std::fs::create_dir(root.path().join("etc")).unwrap();
    std::fs::write(root.path().join("etc/passwd"), "root").unwrap();
    let plan = CopyPlan::new(ctx.path(), &["f.txt".into()], "/etc", false, false, "COPY").unwrap();
    let own = Ownership {
        uid: nix::unistd::getuid().as_raw(),
        gid: nix::unistd::getgid().as_raw(),
        chmod: None,
    };
    apply(&plan, root.path(), own).unwrap();
    assert_eq!(
        std::fs::read_to_string(root.path().join("etc/f.txt")).unwrap(),
        "x"
    );
    assert_eq!(
        std::fs::read_to_string(root.path().join("etc/passwd")).unwrap(),
        "root"
    );
    // And onto a path that is not there: the file takes that name.
    let plan = CopyPlan {
        items: vec![Item {
            src: ctx.path().join("f.txt"),
            dest: "/opt/renamed".into(),
            extract: false,
            mode: None,
        }],
        kind: "file",
    };
    apply(&plan, root.path(), own).unwrap();
    assert_eq!(
        std::fs::read_to_string(root.path().join("opt/renamed")).unwrap(),
        "x"
    );
}
