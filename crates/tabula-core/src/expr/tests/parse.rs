//! Grammar and validation messages of condition, update and projection expressions.

use super::super::*;
use super::support::*;
use crate::value::AttributeValue;

#[test]
fn syntax_error_names_token_and_neighbours() {
    assert_eq!(
        cond_err("a = = b", &[]),
        "Invalid ConditionExpression: Syntax error; token: \"=\", near: \"= = b\""
    );
    assert_eq!(
        cond_err("a =", &[]),
        "Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \"=\""
    );
    assert_eq!(
        cond_err("a$b = :v", &[]),
        "Invalid ConditionExpression: Syntax error; token: \"$\", near: \"a$b\""
    );
    assert_eq!(
        cond_err("  add = :v", &[]),
        "Invalid ConditionExpression: Syntax error; token: \"add\", near: \"  add =\""
    );
}

#[test]
fn empty_expression_is_rejected() {
    assert_eq!(
        cond_err("", &[]),
        "Invalid ConditionExpression: The expression can not be empty;"
    );
    assert_eq!(
        update("", &[]).err().as_deref(),
        Some("Invalid UpdateExpression: The expression can not be empty;")
    );
}

#[test]
fn expressions_longer_than_4kb_are_rejected() {
    let text = format!("a = :v{}", " ".repeat(4091));
    assert_eq!(
        cond_err(&text, &[(":v", s("x"))]),
        "Invalid ConditionExpression: Expression size has exceeded the maximum allowed size; expression size: 4097"
    );
    let ok = format!("a = :v{}", " ".repeat(4090));
    assert!(cond(&ok, &[(":v", s("x"))]).is_ok());
}

#[test]
fn more_than_300_operators_are_rejected() {
    let text = vec!["a = :v"; 151].join(" OR ");
    assert_eq!(
        cond_err(&text, &[(":v", s("x"))]),
        "Invalid ConditionExpression: The expression contains too many operators; operator count: 301"
    );
    // DynamoDB stops counting at 301, however many there are.
    let text = vec!["a = :v"; 200].join(" OR ");
    assert_eq!(
        cond_err(&text, &[(":v", s("x"))]),
        "Invalid ConditionExpression: The expression contains too many operators; operator count: 301"
    );
    let ok = vec!["a = :v"; 150].join(" OR ");
    assert!(cond(&ok, &[(":v", s("x"))]).is_ok());
}

#[test]
fn in_accepts_100_operands_and_rejects_101() {
    let list = |k: usize| format!("a IN ({})", vec![":v"; k].join(", "));
    assert!(cond(&list(100), &[(":v", s("x"))]).is_ok());
    assert_eq!(
        cond_err(&list(101), &[(":v", s("x"))]),
        "Invalid ConditionExpression: The IN operator is provided with too many operands; number of operands: 101"
    );
}

#[test]
fn document_paths_deeper_than_32_levels_are_rejected() {
    let path = |levels: usize| format!("a{} = :v", ".b".repeat(levels - 1));
    assert!(cond(&path(32), &[(":v", s("x"))]).is_ok());
    assert_eq!(
        cond_err(&path(33), &[(":v", s("x"))]),
        "Invalid ConditionExpression: The document path has too many nesting levels; nesting levels: 33"
    );
}

#[test]
fn list_index_beyond_i32_is_rejected() {
    assert_eq!(
        cond_err("a[2147483648] = :v", &[(":v", s("x"))]),
        "Invalid ConditionExpression: List index is not within the allowable range; index: [2147483648]"
    );
    assert!(cond("a[2147483647] = :v", &[(":v", s("x"))]).is_ok());
}

#[test]
fn keywords_are_case_insensitive_but_function_names_are_not() {
    let v = [(":v", s("x"))];
    assert!(cond("a = :v aNd NOT b = :v or c BeTwEeN :v AND :v", &v).is_ok());
    assert!(cond("a iN (:v)", &v).is_ok());
    assert_eq!(
        cond_err("Attribute_Exists(a)", &v),
        "Invalid ConditionExpression: Invalid function name; function: Attribute_Exists"
    );
}

#[test]
fn whitespace_includes_tabs_and_newlines() {
    assert!(cond("a\t=\n:v\r\nAND b <> :v", &[(":v", s("x"))]).is_ok());
}

#[test]
fn reserved_words_need_a_placeholder() {
    assert_eq!(
        cond_err("year = :v", &[(":v", s("x"))]),
        "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: year"
    );
    assert_eq!(
        cond_err("a.Status = :v", &[(":v", s("x"))]),
        "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: Status"
    );
    let vals = values(&[(":v", s("x"))]);
    let nm = names(&[("#y", "year")]);
    let mut r = Resolver::new(Some(&nm), Some(&vals));
    assert!(r.condition(ExprKind::Condition, "#y = :v").is_ok());
    assert!(r.finish().is_ok());
}

#[test]
fn undefined_names_and_values_are_reported() {
    assert_eq!(
        cond_err("#a = :v", &[(":v", s("x"))]),
        "Invalid ConditionExpression: An expression attribute name used in the document path is not defined; attribute name: #a"
    );
    assert_eq!(
        cond_err("a = :w", &[(":v", s("x"))]),
        "Invalid ConditionExpression: An expression attribute value used in expression is not defined; attribute value: :w"
    );
}

#[test]
fn unused_names_are_reported_before_unused_values_in_dynamodb_order() {
    let vals = values(&[
        (":a", s("x")),
        (":b", s("y")),
        (":c", s("z")),
        (":used", s("u")),
    ]);
    // Keys that share a hash bucket come out in request order, which a HashMap no longer
    // knows; these two do not collide.
    let nm = names(&[("#b", "v"), ("#a", "v"), ("#s", "s")]);
    let mut r = Resolver::new(Some(&nm), Some(&vals));
    assert!(r.update("SET #s = :used").is_ok());
    assert_eq!(
        r.finish().err().map(|e| e.message).as_deref(),
        Some("Value provided in ExpressionAttributeNames unused in expressions: keys: {#a, #b}")
    );
    let nm = names(&[("#s", "s")]);
    let mut r = Resolver::new(Some(&nm), Some(&vals));
    assert!(r.update("SET #s = :used").is_ok());
    assert_eq!(
        r.finish().err().map(|e| e.message).as_deref(),
        Some(
            "Value provided in ExpressionAttributeValues unused in expressions: keys: {:a, :b, :c}"
        )
    );
}

#[test]
fn unused_key_order_follows_java_hash_set_growth() {
    let keys = [
        ":p0", ":p1", ":p2", ":p3", ":p4", ":p5", ":p6", ":p7", ":p8", ":p9", ":p10", ":p11",
        ":p12", ":p13",
    ];
    let entries: Vec<(&str, AttributeValue)> = keys.iter().map(|k| (*k, s("x"))).collect();
    let vals = values(&entries);
    let r = Resolver::new(None, Some(&vals));
    assert_eq!(
        r.finish().err().map(|e| e.message).as_deref(),
        Some(
            "Value provided in ExpressionAttributeValues unused in expressions: keys: {:p6, :p7, :p8, :p9, :p13, :p10, :p11, :p12, :p0, :p1, :p2, :p3, :p4, :p5}"
        )
    );
}

#[test]
fn names_and_values_are_shared_across_expressions_of_a_request() {
    let vals = values(&[(":v", s("x")), (":w", s("y"))]);
    let nm = names(&[("#a", "a"), ("#b", "b")]);
    let mut r = Resolver::new(Some(&nm), Some(&vals));
    assert!(r.update("SET #a = :v").is_ok());
    assert!(r.condition(ExprKind::Condition, "#b <> :w").is_ok());
    assert!(r.finish().is_ok());
}

#[test]
fn empty_or_malformed_placeholder_maps_are_rejected() {
    let empty_names = names(&[]);
    let r = Resolver::new(Some(&empty_names), None);
    assert_eq!(
        r.check_maps().err().map(|e| e.message).as_deref(),
        Some("ExpressionAttributeNames must not be empty")
    );
    let empty_values = values(&[]);
    let mut r = Resolver::new(None, Some(&empty_values));
    assert_eq!(
        r.condition(ExprKind::Condition, "a = b")
            .err()
            .map(|e| e.message)
            .as_deref(),
        Some("ExpressionAttributeValues must not be empty")
    );
    let bad = values(&[(":a-b", s("x"))]);
    let r = Resolver::new(None, Some(&bad));
    assert_eq!(
        r.check_maps().err().map(|e| e.message).as_deref(),
        Some("ExpressionAttributeValues contains invalid key: Syntax error; key: \":a-b\"")
    );
    let bad = names(&[("x", "y")]);
    let r = Resolver::new(Some(&bad), None);
    assert_eq!(
        r.check_maps().err().map(|e| e.message).as_deref(),
        Some("ExpressionAttributeNames contains invalid key: Syntax error; key: \"x\"")
    );
    let bad = names(&[("#a", "")]);
    let r = Resolver::new(Some(&bad), None);
    assert_eq!(
        r.check_maps().err().map(|e| e.message).as_deref(),
        Some("ExpressionAttributeNames contains invalid value: Empty attribute name for key #a")
    );
}

#[test]
fn redundant_parentheses_are_rejected() {
    let v = [(":v", s("x"))];
    for text in [
        "((a = :v))",
        "a = ((:v))",
        "NOT ((a = :v))",
        "((attribute_exists(a)))",
    ] {
        assert_eq!(
            cond_err(text, &v),
            "Invalid ConditionExpression: The expression has redundant parentheses;",
            "{text}"
        );
    }
    for text in [
        "(a = :v)",
        "(a) = (:v)",
        "((a = :v) AND (b = :v))",
        "a IN ((:v))",
    ] {
        assert!(cond(text, &v).is_ok(), "{text}");
    }
}

#[test]
fn precedence_is_not_then_and_then_or() {
    let v = [(":v", s("x"))];
    let c = cond("a = :v OR b = :v AND NOT c = :v", &v).expect("parses");
    let Condition::Or(_, right) = c else {
        panic!("OR must be the root: {c:?}");
    };
    let Condition::And(_, not) = *right else {
        panic!("AND binds tighter than OR");
    };
    assert!(matches!(*not, Condition::Not(_)));
}

#[test]
fn function_misuse_messages() {
    let v = [(":v", s("x")), (":n", n("1"))];
    assert_eq!(
        cond_err("attribute_exists(:v)", &v),
        "Invalid ConditionExpression: Operator or function requires a document path; operator or function: attribute_exists"
    );
    assert_eq!(
        cond_err("begins_with(a)", &v),
        "Invalid ConditionExpression: Incorrect number of operands for operator or function; operator or function: begins_with, number of operands: 1"
    );
    assert_eq!(
        cond_err("size(a)", &v),
        "Invalid ConditionExpression: The function is not allowed to be used this way in an expression; function: size"
    );
    assert_eq!(
        cond_err("size(:n) = :n", &v),
        "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: size, operand type: N"
    );
    assert_eq!(
        cond_err("list_append(a, b) = :v", &v),
        "Invalid ConditionExpression: The function is not allowed in a condition expression; function: list_append"
    );
    assert_eq!(
        cond_err("attribute_type(a, :v)", &v),
        "Invalid ConditionExpression: Invalid attribute type name found; type: x, valid types: {N,BS,L,B,NULL,M,S,SS,NS,BOOL}"
    );
    assert_eq!(
        cond_err("a = a", &v),
        "Invalid ConditionExpression: The first operand must be distinct from the remaining operands for this operator or function; operator: =, first operand: [a]"
    );
}

#[test]
fn ordering_operators_reject_non_scalar_constants() {
    let v = [(":m", m(&[])), (":v", s("x"))];
    assert_eq!(
        cond_err("a < :m", &v),
        "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: <, operand type: M"
    );
    assert!(cond("a = :m", &v).is_ok());
}

#[test]
fn between_bounds_are_checked_when_constant() {
    let v = [(":a", n("1")), (":b", s("x")), (":c", n("0"))];
    assert_eq!(
        cond_err("x BETWEEN :a AND :b", &v),
        "Invalid ConditionExpression: The BETWEEN operator requires same data type for lower and upper bounds; lower bound operand: AttributeValue: {N:1}, upper bound operand: AttributeValue: {S:x}"
    );
    assert_eq!(
        cond_err("x BETWEEN :a AND :c", &v),
        "Invalid ConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {N:1}, upper bound operand: AttributeValue: {N:0}"
    );
}

#[test]
fn invalid_function_names_are_found_before_undefined_placeholders() {
    assert_eq!(
        cond_err("#x = :v AND foo(a)", &[]),
        "Invalid ConditionExpression: Invalid function name; function: foo"
    );
}

#[test]
fn filter_and_key_condition_errors_name_their_parameter() {
    let mut r = Resolver::new(None, None);
    assert_eq!(
        r.condition(ExprKind::Filter, "a =")
            .err()
            .map(|e| e.message)
            .as_deref(),
        Some("Invalid FilterExpression: Syntax error; token: \"<EOF>\", near: \"=\"")
    );
    assert_eq!(
        r.condition(ExprKind::KeyCondition, "a =")
            .err()
            .map(|e| e.message)
            .as_deref(),
        Some("Invalid KeyConditionExpression: Syntax error; token: \"<EOF>\", near: \"=\"")
    );
}

#[test]
fn update_clauses_in_any_order_each_once() {
    let v = [(":v", s("x")), (":n", n("1")), (":s", ss(&["a"]))];
    let u = update("REMOVE r DELETE d :s SET a = :v ADD c :n", &v).expect("parses");
    assert_eq!(u.actions.len(), 4);
    assert_eq!(
        update("SET a = :v REMOVE b SET c = :v", &v)
            .err()
            .as_deref(),
        Some(
            "Invalid UpdateExpression: The \"SET\" section can only be used once in an update expression;"
        )
    );
    assert_eq!(
        update("add a :n ADD b :n", &v).err().as_deref(),
        Some(
            "Invalid UpdateExpression: The \"ADD\" section can only be used once in an update expression;"
        )
    );
}

#[test]
fn update_paths_may_not_overlap_or_conflict() {
    let v = [(":v", s("x"))];
    assert_eq!(
        update("SET a = :v REMOVE a.b", &v).err().as_deref(),
        Some(
            "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a, b]"
        )
    );
    assert_eq!(
        update("SET a[0] = :v REMOVE a.b", &v).err().as_deref(),
        Some(
            "Invalid UpdateExpression: Two document paths conflict with each other; must remove or rewrite one of these paths; path one: [a, [0]], path two: [a, b]"
        )
    );
    assert!(update("SET a.b = :v, a.c = :v REMOVE a.d[1], a.d[0]", &v).is_ok());
}

#[test]
fn update_operand_types_are_checked_at_parse_time() {
    let v = [
        (":v", s("x")),
        (":n", n("1")),
        (":l", l(vec![])),
        (":m", m(&[])),
    ];
    assert_eq!(
        update("SET a = :v + :n", &v).err().as_deref(),
        Some(
            "Invalid UpdateExpression: Incorrect operand type for operator or function; operator or function: +, operand type: S"
        )
    );
    assert_eq!(
        update("SET a = list_append(:l, :v)", &v).err().as_deref(),
        Some(
            "Invalid UpdateExpression: Incorrect operand type for operator or function; operator or function: list_append, operand type: S"
        )
    );
    assert_eq!(
        update("ADD a :m", &v).err().as_deref(),
        Some(
            "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: MAP, typeSet: ALLOWED_FOR_ADD_OPERAND"
        )
    );
    assert_eq!(
        update("DELETE a :n", &v).err().as_deref(),
        Some(
            "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: DELETE, operand type: NUMBER, typeSet: ALLOWED_FOR_DELETE_OPERAND"
        )
    );
    assert_eq!(
        update("SET a = size(b)", &v).err().as_deref(),
        Some(
            "Invalid UpdateExpression: The function is not allowed in an update expression; function: size"
        )
    );
    assert_eq!(
        update("SET a = if_not_exists(:v, a)", &v).err().as_deref(),
        Some(
            "Invalid UpdateExpression: Operator or function requires a document path; operator or function: if_not_exists"
        )
    );
    assert_eq!(
        update("SET a = list_append(list_append(a, :l), :l)", &v)
            .err()
            .as_deref(),
        Some(
            "Invalid UpdateExpression: The function is not allowed to be used this way in an expression; function: list_append"
        )
    );
}

#[test]
fn update_sum_takes_one_operator_and_parenthesised_sums_stand_alone() {
    let v = [(":n", n("1"))];
    assert_eq!(
        update("SET a = :n + :n + :n", &v).err().as_deref(),
        Some("Invalid UpdateExpression: Syntax error; token: \"+\", near: \":n + :n\"")
    );
    assert!(update("SET a = (b + :n)", &v).is_ok());
    assert!(update("SET a = (b) + (:n)", &v).is_ok());
    assert_eq!(
        update("SET a = (b + :n) + :n", &v).err().as_deref(),
        Some("Invalid UpdateExpression: Syntax error; token: \"+\", near: \") + :n\"")
    );
}

#[test]
fn update_top_level_attrs_lists_each_attribute_once() {
    let v = [(":v", s("x")), (":n", n("1"))];
    let u = update("SET a.b = :v, c = :v REMOVE a.d ADD #n :n", &v);
    assert!(u.is_err(), "undefined #n");
    let u = update("SET a.b = :v, c = :v REMOVE a.d ADD e :n", &v).expect("parses");
    assert_eq!(u.top_level_attrs(), vec!["a", "c", "e"]);
}

#[test]
fn projection_parses_paths_and_rejects_overlaps() {
    let mut r = Resolver::new(None, None);
    let p = r.projection("a, b.c[1], d[0]").expect("parses");
    assert_eq!(p.paths().len(), 3);
    assert_eq!(p.paths()[1].to_string(), "[b, c, [1]]");
    assert_eq!(
        r.projection("m, m.k").err().map(|e| e.message).as_deref(),
        Some(
            "Invalid ProjectionExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [m], path two: [m, k]"
        )
    );
    assert_eq!(
        r.projection("size(s)").err().map(|e| e.message).as_deref(),
        Some("Invalid ProjectionExpression: Syntax error; token: \"(\", near: \"size(s\"")
    );
}

#[test]
fn names_resolve_inside_paths_without_splitting_on_dots() {
    let nm = names(&[("#d", "a.b"), ("#k", "k")]);
    let vals = values(&[(":v", s("x"))]);
    let mut r = Resolver::new(Some(&nm), Some(&vals));
    let c = r
        .condition(ExprKind::Condition, "#d.#k = :v")
        .expect("parses");
    let it = item(&[("a.b", m(&[("k", s("x"))]))]);
    assert_eq!(c.evaluate(&it), Ok(true));
}
