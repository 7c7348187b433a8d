use std::collections::HashMap;

use proptest::prelude::*;
use rstest::rstest;

use super::*;

fn fixtures_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/dockerfiles")
}

/// One snapshot per fixture, named after the file, so a new fixture needs no new test.
#[test]
fn fixtures_snapshot() {
    let mut names: Vec<_> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "Dockerfile"))
        .collect();
    names.sort();
    assert!(names.len() >= 10, "fixture corpus went missing");
    for path in names {
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        let parsed = parse(&std::fs::read_to_string(&path).unwrap());
        insta::assert_debug_snapshot!(format!("fixture_{stem}"), parsed);
    }
}

fn one_step(src: &str) -> Step {
    let df = parse(&format!("FROM scratch\n{src}")).unwrap();
    df.stages[0].steps[0].clone()
}

#[test]
fn instruction_names_are_case_insensitive() {
    let df = parse("fRoM a\nrUn x\nCmD y").unwrap();
    assert_eq!(df.stages[0].steps.len(), 2);
    assert_eq!(df.stages[0].steps[1].instruction.kind(), Kind::Cmd);
}

#[test]
fn hash_inside_a_line_is_not_a_comment() {
    let step = one_step("RUN echo hi # not a comment");
    assert_eq!(
        step.instruction,
        Instruction::Run(Run {
            command: Command::Shell("echo hi # not a comment".into()),
            heredocs: vec![],
        })
    );
}

#[test]
fn original_text_and_line_are_kept() {
    let df = parse("FROM a\n\n# c\nRUN a \\\n  b\nUSER x").unwrap();
    let steps = &df.stages[0].steps;
    assert_eq!(
        (steps[0].line, steps[0].original.as_str()),
        (4, "RUN a   b")
    );
    assert_eq!(steps[1].line, 6);
}

#[test]
fn crlf_and_bom_are_tolerated() {
    let df = parse("\u{feff}FROM a\r\nRUN b \\\r\n c\r\n").unwrap();
    assert_eq!(df.stages[0].steps[0].original, "RUN b  c");
}

#[test]
fn onbuild_holds_the_parsed_trigger() {
    let step = one_step("ONBUILD WORKDIR /x");
    let Instruction::Onbuild(o) = step.instruction else {
        panic!()
    };
    assert_eq!(o.original, "WORKDIR /x");
    assert_eq!(*o.trigger, Instruction::Workdir("/x".into()));
}

#[test]
fn stages_resolve_by_name_and_index_but_only_backwards() {
    let df =
        parse("FROM a AS One\nFROM b\nCOPY --from=one x y\nFROM ONE\nCOPY --from=3 a b").unwrap();
    assert_eq!(df.resolve_stage("ONE", 1), Some(0));
    assert_eq!(df.resolve_stage("1", 1), None);
    assert_eq!(df.resolve_stage("1", 2), Some(1));
    assert_eq!(df.stages[2].base_stage, Some(0));
    let Instruction::Copy(c) = &df.stages[1].steps[0].instruction else {
        panic!()
    };
    assert_eq!(c.from_stage, Some(0));
    let Instruction::Copy(c) = &df.stages[2].steps[0].instruction else {
        panic!()
    };
    assert_eq!(c.from_stage, None);
}

#[test]
fn expanded_kinds_match_docker() {
    use Kind::*;
    for k in [
        Add, Copy, Env, Expose, From, Label, Stopsignal, User, Volume, Workdir, Arg,
    ] {
        assert!(k.expands_variables(), "{}", k.name());
    }
    for k in [
        Run,
        Cmd,
        Entrypoint,
        Onbuild,
        Shell,
        Healthcheck,
        Maintainer,
    ] {
        assert!(!k.expands_variables(), "{}", k.name());
    }
}

#[test]
fn expansion_error_gets_its_line() {
    let err = expand("${x", &HashMap::new()).unwrap_err().at_line(7);
    assert_eq!(
        err.to_string(),
        "Dockerfile parse error line 7: syntax error: missing '}'"
    );
}

#[rstest]
#[case::plain("$v", "value")]
#[case::braces("${v}", "value")]
#[case::glued("a${v}b$v.c", "avaluebvalue.c")]
#[case::unset_is_empty("[$nope]", "[]")]
#[case::default_unset("${nope:-dflt}", "dflt")]
#[case::default_empty("${empty:-dflt}", "dflt")]
#[case::default_set("${v:-dflt}", "value")]
#[case::alt_unset("${nope:+alt}", "")]
#[case::alt_empty("${empty:+alt}", "")]
#[case::alt_set("${v:+alt}", "alt")]
#[case::dash_no_colon_empty("${empty-dflt}", "")]
#[case::dash_no_colon_unset("${nope-dflt}", "dflt")]
#[case::plus_no_colon_empty("${empty+alt}", "alt")]
#[case::nested_default("${nope:-$v/x}", "value/x")]
#[case::escaped_dollar("\\$v", "$v")]
#[case::escaped_brace("\\${v}", "${v}")]
#[case::single_quotes("'$v'", "$v")]
#[case::double_quotes("\"$v and ${v}\"", "value and value")]
#[case::escape_in_double_quotes("\"a\\\"b\\$v\\x\"", "a\"b$v\\x")]
#[case::lone_dollar("cost: $", "cost: $")]
#[case::dollar_before_symbol("$-x", "$-x")]
#[case::positional("$1x", "x")]
#[case::escaped_space("a\\ b", "a b")]
#[case::spaces_kept("a  $v  b", "a  value  b")]
fn expansion(#[case] word: &str, #[case] want: &str) {
    let env: HashMap<String, String> = [("v", "value"), ("empty", "")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(expand(word, &env).unwrap(), want);
}

#[test]
fn expansion_with_backtick_escape_and_env_list() {
    let env = vec!["v=old".to_string(), "v=new".to_string()];
    assert_eq!(
        expand_with_escape("C:\\$v `$v", &env, '`').unwrap(),
        "C:\\new $v"
    );
}

#[rstest]
#[case::unterminated_brace("${v", "syntax error: missing '}'")]
#[case::unterminated_default("${v:-abc", "syntax error: missing '}'")]
#[case::empty_braces("${}", "syntax error: bad substitution")]
#[case::colon_first("${:-x}", "syntax error: bad substitution")]
#[case::bad_name("${-x}", "syntax error: bad substitution")]
#[case::bad_modifier("${v:=x}", "unsupported modifier (=) in substitution")]
#[case::pattern("${v#x}", "unsupported modifier (#) in substitution")]
#[case::required("${nope:?must be set}", "nope: must be set")]
#[case::single_quote(
    "'abc",
    "unexpected end of statement while looking for matching single-quote"
)]
#[case::double_quote(
    "\"abc",
    "unexpected end of statement while looking for matching double-quote"
)]
fn expansion_errors(#[case] word: &str, #[case] want: &str) {
    let err = expand(word, &HashMap::new()).unwrap_err();
    assert_eq!(err.to_string(), want);
}

#[rstest]
#[case::unknown(
    "FROM a\nRUN x\nFORM b",
    "Dockerfile parse error line 3: unknown instruction: FORM"
)]
#[case::from_two(
    "FROM a b",
    "Dockerfile parse error line 1: FROM requires either one or three arguments"
)]
#[case::from_not_as(
    "FROM a IS b",
    "Dockerfile parse error line 1: FROM requires either one or three arguments"
)]
#[case::from_none(
    "FROM",
    "Dockerfile parse error line 1: FROM requires either one or three arguments"
)]
#[case::bad_stage("FROM a AS 1st", "Dockerfile parse error line 1: invalid name for build stage: \"1st\", name can't start with a number or contain symbols")]
#[case::dup_stage(
    "FROM a AS x\nFROM b AS X",
    "Dockerfile parse error line 2: duplicate stage name \"x\""
)]
#[case::env_blank(
    "FROM a\nENV =x",
    "Dockerfile parse error line 2: ENV names can not be blank"
)]
#[case::label_blank(
    "FROM a\nLABEL =x",
    "Dockerfile parse error line 2: LABEL names can not be blank"
)]
#[case::env_one(
    "FROM a\nENV x",
    "Dockerfile parse error line 2: ENV must have two arguments"
)]
#[case::env_no_eq("FROM a\nENV a=1 b", "Dockerfile parse error line 2: Syntax error - can't find = in \"b\". Must be of the form: name=value")]
#[case::env_empty(
    "FROM a\nENV",
    "Dockerfile parse error line 2: ENV requires at least one argument"
)]
#[case::no_stage(
    "# hi\nRUN x",
    "Dockerfile parse error line 2: no build stage in current context"
)]
#[case::empty("", "file with no instructions")]
#[case::only_comments("# escape=`\n\n# nothing\n", "file with no instructions")]
#[case::only_args("ARG a", "dockerfile contains no stages to build")]
#[case::unknown_flag(
    "FROM a\nCOPY --foo=bar a b",
    "Dockerfile parse error line 2: Unknown flag: foo"
)]
#[case::flag_on_env(
    "FROM a\nENV --x=1 a=b",
    "Dockerfile parse error line 2: Unknown flag: x"
)]
#[case::from_flag_on_add(
    "FROM a\nADD --from=x a b",
    "Dockerfile parse error line 2: Unknown flag: from"
)]
#[case::missing_value(
    "FROM --platform a",
    "Dockerfile parse error line 1: Missing a value on flag: platform"
)]
#[case::dup_flag(
    "FROM a\nCOPY --chown=1 --chown=2 a b",
    "Dockerfile parse error line 2: Duplicate flag specified: chown"
)]
#[case::bad_bool(
    "FROM a\nCOPY --link=yes a b",
    "Dockerfile parse error line 2: expecting boolean value for flag link, not: yes"
)]
#[case::run_mount(
    "FROM a\nRUN --mount=type=cache,target=/c make",
    "Dockerfile parse error line 2: RUN --mount is not supported by berth yet"
)]
#[case::run_network(
    "FROM a\nRUN --network=none make",
    "Dockerfile parse error line 2: RUN --network is not supported by berth yet"
)]
#[case::copy_one("FROM a\nCOPY a", "Dockerfile parse error line 2: COPY requires at least two arguments, but only one was provided. Destination could not be determined.")]
#[case::add_none(
    "FROM a\nADD",
    "Dockerfile parse error line 2: ADD requires at least two arguments"
)]
#[case::onbuild_onbuild(
    "FROM a\nONBUILD ONBUILD RUN x",
    "Dockerfile parse error line 2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"
)]
#[case::onbuild_from(
    "FROM a\nONBUILD from b",
    "Dockerfile parse error line 2: FROM isn't allowed as an ONBUILD trigger"
)]
#[case::onbuild_maintainer(
    "FROM a\nONBUILD MAINTAINER me",
    "Dockerfile parse error line 2: MAINTAINER isn't allowed as an ONBUILD trigger"
)]
#[case::onbuild_empty(
    "FROM a\nONBUILD",
    "Dockerfile parse error line 2: ONBUILD requires at least one argument"
)]
#[case::shell_not_json(
    "FROM a\nSHELL /bin/sh -c",
    "Dockerfile parse error line 2: SHELL requires the arguments to be in JSON form"
)]
#[case::shell_empty(
    "FROM a\nSHELL []",
    "Dockerfile parse error line 2: SHELL requires at least one argument"
)]
#[case::json_non_string("FROM a\nCMD [\"a\", 1]", "Dockerfile parse error line 2: when using JSON array syntax, arrays must be comprised of strings only")]
#[case::hc_none_args(
    "FROM a\nHEALTHCHECK NONE x",
    "Dockerfile parse error line 2: HEALTHCHECK NONE takes no arguments"
)]
#[case::hc_type(
    "FROM a\nHEALTHCHECK RUN x",
    "Dockerfile parse error line 2: Unknown type \"RUN\" in HEALTHCHECK (try CMD)"
)]
#[case::hc_missing(
    "FROM a\nHEALTHCHECK CMD",
    "Dockerfile parse error line 2: Missing command after HEALTHCHECK CMD"
)]
#[case::hc_bad_duration(
    "FROM a\nHEALTHCHECK --interval=5 CMD x",
    "Dockerfile parse error line 2: time: missing unit in duration \"5\""
)]
#[case::hc_tiny(
    "FROM a\nHEALTHCHECK --timeout=10us CMD x",
    "Dockerfile parse error line 2: Interval \"timeout\" cannot be less than 1ms"
)]
#[case::hc_negative(
    "FROM a\nHEALTHCHECK --interval=-1s CMD x",
    "Dockerfile parse error line 2: Interval \"interval\" cannot be negative"
)]
#[case::hc_retries(
    "FROM a\nHEALTHCHECK --retries=-1 CMD x",
    "Dockerfile parse error line 2: --retries cannot be negative (-1)"
)]
#[case::expose_proto(
    "FROM a\nEXPOSE 80/xyz",
    "Dockerfile parse error line 2: invalid proto: xyz"
)]
#[case::expose_port(
    "FROM a\nEXPOSE http",
    "Dockerfile parse error line 2: invalid containerPort: http"
)]
#[case::volume_blank(
    "FROM a\nVOLUME [\"\"]",
    "Dockerfile parse error line 2: VOLUME specified can not be an empty string"
)]
#[case::user_empty(
    "FROM a\nUSER",
    "Dockerfile parse error line 2: USER requires exactly one argument"
)]
#[case::arg_blank("ARG =x", "Dockerfile parse error line 1: ARG names can not be blank")]
#[case::bad_escape(
    "# escape=x\nFROM a",
    "Dockerfile parse error line 1: invalid escape token 'x' does not match ` or \\"
)]
#[case::two_escapes(
    "# escape=`\n# escape=\\\nFROM a",
    "Dockerfile parse error line 2: only one escape parser directive can be used"
)]
#[case::heredoc_open(
    "FROM a\nRUN <<EOF\nx",
    "Dockerfile parse error line 2: unterminated heredoc EOF"
)]
#[case::error_line_is_first_line(
    "FROM a\nRUN a \\\n b\nWAT \\\n x",
    "Dockerfile parse error line 4: unknown instruction: WAT"
)]
fn parse_errors(#[case] src: &str, #[case] want: &str) {
    assert_eq!(parse(src).unwrap_err().to_string(), want);
}

#[rstest]
#[case("80", 80, 80, "tcp")]
#[case("53/UDP", 53, 53, "udp")]
#[case("7000-7005/tcp", 7000, 7005, "tcp")]
fn ports(#[case] word: &str, #[case] start: u16, #[case] end: u16, #[case] proto: &str) {
    assert_eq!(
        parse_port(word).unwrap(),
        PortSpec {
            start,
            end,
            proto: proto.into()
        }
    );
}

const TOKENS: &[&str] = &[
    "FROM",
    "from",
    "RUN",
    "CMD",
    "COPY",
    "ADD",
    "ENV",
    "ARG",
    "LABEL",
    "ONBUILD",
    "HEALTHCHECK",
    "SHELL",
    "EXPOSE",
    "VOLUME",
    "USER",
    "WORKDIR",
    "STOPSIGNAL",
    "MAINTAINER",
    "ENTRYPOINT",
    "NONE",
    "AS",
    "scratch",
    "\\",
    "`",
    "\"",
    "'",
    "<<",
    "<<-",
    "EOF",
    "#",
    "# escape=`",
    "\n",
    " ",
    "\t",
    "[",
    "]",
    ",",
    "=",
    "$",
    "${",
    "}",
    ":-",
    ":+",
    "--from=",
    "--chown=",
    "--interval=",
    "1s",
    "x",
    "/",
    "\r",
    "é",
    "-",
    "0",
];

fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..60).prop_map(|t| t.concat())
}

proptest! {
    #[test]
    fn parse_never_panics(src in any::<String>()) {
        let _ = parse(&src);
    }

    #[test]
    fn parse_never_panics_on_dockerfile_tokens(src in token_soup()) {
        let _ = parse(&src);
    }

    #[test]
    fn expand_never_panics(word in any::<String>(), soup in token_soup()) {
        let env: HashMap<String, String> =
            [("x".to_string(), "1".to_string())].into_iter().collect();
        let _ = expand(&word, &env);
        let _ = expand(&soup, &env);
        let _ = expand_with_escape(&soup, &env, '`');
    }
}
