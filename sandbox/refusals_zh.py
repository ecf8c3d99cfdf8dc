"""SQL refusals in Chinese: the parser's English reasons (sandbox.sql) said again for zh-CN viewers.

SQL keywords, column and table names stay as written; everything around them is Chinese."""

from __future__ import annotations

import re

PATTERNS: list[tuple[str, str]] = [
    (r"the query is empty", "查询为空：请写一条 SELECT 聚合查询"),
    (r"the SQL could not be read \((.*)\)", "无法解析该 SQL，请检查引号和括号"),
    (r"several statements are not allowed", "一次只能提交一条语句"),
    (r"(\w+) statements are not allowed", r"不允许 \1 语句，只接受 SELECT 聚合查询"),
    (r"subqueries are not allowed", "不允许子查询，请直接在一条 SELECT 中查询数据表"),
    (r"WITH \(common table expressions\) is not allowed", "不允许 WITH（公用表表达式），请直接查询数据表"),
    (r"JOIN is not allowed", "不允许 JOIN，一次只能查询一张表"),
    (r"window functions \(OVER \.\.\.\) are not allowed", "不允许窗口函数（OVER ...）"),
    (r"DISTINCT is not allowed", "不允许 DISTINCT，请对维度使用 GROUP BY 并配合 COUNT(*)"),
    (r"SELECT \* is not allowed", "不允许 SELECT *：沙箱只返回聚合结果，请使用 COUNT(*)、SUM、AVG、MEDIAN 等聚合函数"),
    (r"\* is only allowed in COUNT\(\*\)", "* 只能用在 COUNT(*) 中"),
    (r"query parameters are not allowed", "不允许查询参数，请直接写入常量"),
    (r'selecting the raw column "(.+)" is not allowed', r"不能直接选取原始列“\1”：请对其聚合，或把它放进 GROUP BY"),
    (r"the query selects no aggregate", "查询没有聚合函数：请使用 COUNT(*)、SUM、AVG、MEDIAN 等"),
    (r"the query has no FROM clause", "查询缺少 FROM 子句"),
    (r"FROM must name one table", "FROM 只能写一张表"),
    (r"schema-qualified table names are not allowed", "表名前不能带模式名"),
    (r'unknown table "(.+)"', r"没有名为“\1”的数据表"),
    (r"qualified column names are not allowed", "列名前不能带表名"),
    (r'unknown column "(.+)"', r"没有名为“\1”的列"),
    (r'column "(.+)" is an identifier and cannot be used in a query', r"列“\1”是个人标识符，不能在查询中使用"),
    (r'column "(.+)" is excluded by the data dictionary', r"列“\1”在数据字典中被设为不可用"),
    (r'column "(.+)" has type (\w+), which queries cannot use', r"列“\1”的类型为 \2，查询中不能使用"),
    (r"(MIN|MAX) is not supported", r"不支持 \1：极值无法以差分隐私方式发布，请改用高分位数"),
    (r"(\w+) is not supported", r"暂不支持 \1"),
    (r"function (\w+) is not allowed", r"不允许使用函数 \1"),
    (r"selecting constants is not allowed", "不能选取常量"),
    (r"(\w+) is not allowed in the SELECT list", r"SELECT 列表中不允许 \1"),
    (r"COUNT accepts \*, or a single column", "COUNT 只接受 * 或单个列"),
    (r"the quantile level must be a number strictly between 0 and 1", "分位数必须是介于 0 和 1 之间的数"),
    (r'column "(.+)" is a (\w+), not a measure', r"列“\1”不是度量，不能求和或求平均"),
    (r'measure "(.+)" has no bounds in the data dictionary', r"度量“\1”在数据字典中没有取值范围"),
    (r'the bounds \[(.+)\] would widen the bounds of "(.+)"', r"范围 [\1] 超出了“\2”在数据字典中的取值范围"),
    (r'the bounds \[(.+)\] of "(.+)" are empty', r"“\2”的范围 [\1] 为空"),
    (r'"(.+)" holds integers, so its bounds must be integers', r"“\1”为整数列，范围也必须是整数"),
    (r"GROUP BY (\w+) is not allowed", r"不允许 GROUP BY \1"),
    (r'column "(.+)" is selected but not grouped', r"列“\1”被选取但没有出现在 GROUP BY 中"),
    (r"GROUP BY accepts dimension columns only", "GROUP BY 只能使用维度列"),
    (r'column "(.+)" is a measure and cannot be grouped on', r"列“\1”是度量，不能用于分组"),
    (r'the keys of column "(.+)" are not public, so it cannot be grouped on', r"列“\1”的取值不公开，不能用于分组"),
    (r'the result column name "(.+)" is used twice', r"结果列名“\1”重复"),
    (r"functions are not allowed in WHERE \((.*)\)", r"WHERE 中不允许使用函数（\1）"),
    (r"(\w+) can only use columns of the result.*", r"\1 只能使用结果中的列"),
    (r"(\w+) can only use aggregates that are also selected", r"\1 只能使用已选取的聚合"),
    (r"ORDER BY must name a column of the result", "ORDER BY 必须使用结果中的列"),
    # branch sql (issue 14): the wider SQL surface
    # branch dates (issue 14): time buckets over declared date and datetime columns
    (r"(\w+) by (.*) is not supported", r"\1 不支持按 \2 分段，请使用年、季度、月、日、小时或星期"),
    (r"(\w+) takes a date or time column", r"\1 只接受一个日期或时间列"),
    (r'column "(.+)" is not a date or time column in the data dictionary, so (\w+) cannot be used on it',
     r"列“\1”在数据字典中不是日期或时间列，不能对其使用 \2；哪些列是日期及其时间范围由数据提供方声明"),
    (r'column "(.+)" holds dates without a time of day, so it has no hour',
     r"列“\1”只有日期、没有时刻，无法按小时分组"),
    (r'column "(.+)" has no declared period in the data dictionary, so its time buckets have no public keys',
     r"列“\1”在数据字典中没有声明时间范围，其时间分段没有公开的分组键；请数据提供方声明首末日期"),
    (r'grouping by (.+) would make ([\d,]+) groups over the declared period of "(.+)" \((.+) to (.+)\), more than '
     r"(\d+)", r"按 \1 分组会在“\3”声明的时间范围（\4 至 \5）内产生 \2 个组，超过上限 \6：大多数组将只是噪声，"
     r"请改用更粗的时间单位，或用 WHERE 缩小时间范围"),
    (r'the WHERE leaves no period of (.+) within the declared period of "(.+)"',
     r"WHERE 条件排除了“\2”声明时间范围内 \1 的全部分段，没有可发布的组"),
    (r'column "(.+)" holds (?:dates|times), whose values are not public keys, so it cannot be grouped on directly',
     r"列“\1”是日期或时间列，其取值不是公开的分组键，不能直接分组；请按时间分段分组，如 DATE_TRUNC('month', \1)"),
    (r'"(.+)" holds (?:dates|times) and cannot be compared with (.+)',
     r"“\1”是日期或时间列，不能与 \2 比较；请与日期常量比较，如 DATE '2013-06-01'"),
    (r'"(.+)" holds dates, which cannot be compared with a time of day', r"“\1”是日期列，不能与带时刻的时间比较"),
    (r"(.+) is selected twice under different names", r"\1 以不同的名称被选取了两次，请只选取一次"),
    # branch dates: GROUP BY a measure through public bins
    (r'column "(.+)" is a (\w+), not a numeric measure, so it cannot be binned',
     r"列“\1”不是数值度量，不能分箱；请对数据字典声明了取值范围的度量分箱"),
    (r"the bin width must be a positive whole number", "分箱宽度必须是正整数，如 FLOOR(age / 10) * 10"),
    (r'grouping by (.+) would make ([\d,]+) groups over the bounds of "(.+)", more than (\d+)',
     r"按 \1 分组会在“\3”的取值范围内产生 \2 个组，超过上限 \4：请使用更宽的分箱"),
    (r'a CASE group cannot test the date column "(.+)"',
     r"CASE 分组不能判断日期列“\1”：请按其时间分段分组，或在 WHERE 中筛选"),
    (r"the labels of a CASE group must all be text or all whole numbers", "CASE 分组的标签必须全为文本或全为整数"),
    (r"the values of a CASE group must be text or whole-number constants", "CASE 分组的取值必须是文本或整数常量"),
    (r'"(.+)" is not a TRUE/FALSE column, so it cannot stand alone as a condition',
     r"“\1”不是真/假列，不能单独作为条件，请与常量比较"),
    (r'the result column name "(.+)" is reserved .*', r"结果列名“\1”为保留名（以 __ 开头的名称供沙箱内部使用）"),
    (r"CASE values must be numbers, measure columns or NULL", "CASE 的取值只能是数字、度量列或 NULL"),
    (r"CASE is allowed inside SUM, AVG and COUNT only", "CASE 只能用在 SUM、AVG 和 COUNT 中"),
    (r"CASE inside CASE is not supported", "不支持在 CASE 中嵌套 CASE"),
    (r"CASE <expression> WHEN … is not supported",
     "不支持 CASE <表达式> WHEN … 的写法，请写 CASE WHEN 列 = 值 THEN … END"),
    (r"TOP and LIMIT cannot be used together", "不能同时使用 TOP 和 LIMIT（TOP n 即 LIMIT n），请只保留一个"),
    (r"TOP must be followed by a whole number", "TOP 后面必须是一个整数"),
    (r'column "(.+)" is renamed twice', r"列“\1”被重命名了两次"),
    (r"two group columns have the same name in the result", "两个分组列在结果中同名"),
    (r'the raw column "(.+)" cannot appear outside an aggregate', r"原始列“\1”不能出现在聚合函数之外"),
    (r"expressions over raw columns are not allowed in the SELECT list", "SELECT 列表中不允许对原始列做运算，请先聚合"),
    (r"(\w+) is not allowed on released values", r"不允许对发布结果使用 \1"),
    (r"CAST to (\w+) is not allowed on released values", r"不允许把发布结果转换为 \1 类型"),
    (r"LOG with one argument means .*",
     "单参数 LOG 在不同数据库中含义不同（自然对数或以 10 为底），请写 LN、LOG10 或 LOG(底数, x)"),
    (r"LOG needs a constant base above 0 other than 1", "LOG 的底数必须是大于 0 且不等于 1 的常量"),
    (r"ROUND takes a whole number of decimals from 0 to 15", "ROUND 的小数位数必须是 0 到 15 之间的整数"),
    (r"(\w+) takes one measure column", r"\1 只接受一个度量列"),
    (r"COUNT\(DISTINCT \.\.\.\) takes a single column", "COUNT(DISTINCT ...) 只接受一个列"),
    (r'COUNT\(DISTINCT "(.+)"\) is not supported: only the privacy unit can be counted distinctly',
     r"只能对隐私单位做 COUNT(DISTINCT ...)，不支持 COUNT(DISTINCT “\1”)：请对它 GROUP BY 并使用 COUNT(*)"),
    (r"COUNT\(DISTINCT (.+)\) must be asked in a query of its own",
     r"COUNT(DISTINCT \1) 须单独查询：它先按人归并记录，其他聚合无法共用同一计划"),
    (r'column "(.+)" is a decimal measure and cannot be grouped on',
     r"列“\1”是小数度量，不能用于分组；只有取值范围公开的整数度量可以分组"),
    (r'grouping by "(.+)" would make (\d+) groups \(every integer in \[(.+)\]\), more than (\d+)',
     r"按“\1”分组会产生 \2 个组（[\3] 内的每个整数），超过上限 \4：大多数组将只是噪声"),
    (r"(.+) is not allowed", r"不允许 \1"),
]
COMPILED = [(re.compile(f"^{pattern}$"), said) for pattern, said in PATTERNS]


def translate(reason: str, line: int | None = None, col: int | None = None) -> str:
    """The refusal in Chinese, with its position; an unknown reason keeps its SQL-bearing text."""
    where = f"（第 {line} 行第 {col} 列）" if line is not None and col is not None else ""
    for pattern, said in COMPILED:
        if pattern.match(reason):
            return "查询不被允许" + where + "：" + pattern.sub(said, reason)
    return f"查询不被允许{where}：{reason}"
