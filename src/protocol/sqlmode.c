/* The server's reading rules as data: sql_mode flags, character-set lexical classes, built-in function names. */
#include "protocol/sqlmode.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "protocol/charset.h"
#include "protocol/classify.h"

/* ---- character sets ----------------------------------------------------- */

/* Bytes >= 0x80 that are whitespace or control characters, per character set,
 * as a live MariaDB 10.11.19 lexes them: after SET NAMES x, every byte b was
 * sent as "SELECT 1<b>" (whitespace if it answers 1) and "SELECT 1 --<b>\n+1"
 * (a comment if it answers 2). The multi-byte ranges are those for which
 * CHAR_LENGTH(CONVERT(<lead><trail> USING x)) is 1 on the same server (the
 * lexer and CHAR_LENGTH share the character set's charlen()); gb18030 is
 * MySQL 8's. Sets not listed (ucs2, utf16, utf32: never a client character
 * set) are unknown. */
static const struct sqlm_charset sqlm_charsets[] = {
    {"armscii8", SQLM_MB_NONE, true, "\xa0", ""},
    {"ascii", SQLM_MB_NONE, true, "", ""},
    {"big5", SQLM_MB_BIG5, true, "", ""},
    {"binary", SQLM_MB_NONE, true, "", ""},
    {"cp1250", SQLM_MB_NONE, true, "\xa0", "\x80\x81\x83\x88\x90\x98"},
    {"cp1251", SQLM_MB_NONE, false, "", ""},
    {"cp1256", SQLM_MB_NONE, true, "", ""},
    {"cp1257", SQLM_MB_NONE, false, "", ""},
    {"cp850", SQLM_MB_NONE, true, "", "\xff"},
    {"cp852", SQLM_MB_NONE, false, "\xff", ""},
    {"cp866", SQLM_MB_NONE, false, "\xff", ""},
    {"cp932", SQLM_MB_SJIS, true, "", ""},
    {"dec8", SQLM_MB_NONE, true, "\xa0", ""},
    {"eucjpms", SQLM_MB_NONE, true, "", ""},
    {"euckr", SQLM_MB_NONE, true, "", ""},
    {"gb18030", SQLM_MB_GB18030, true, "", ""},
    {"gb2312", SQLM_MB_NONE, true, "", ""},
    {"gbk", SQLM_MB_GBK, true, "", ""},
    {"geostd8", SQLM_MB_NONE, true, "\xa0", ""},
    {"greek", SQLM_MB_NONE, true, "\xa0", ""},
    {"hebrew", SQLM_MB_NONE, true, "\xa0", "\xfd\xfe"},
    {"hp8", SQLM_MB_NONE, true, "",
     "\x80\x81\x82\x83\x84\x85\x86\x87\x88\x89\x8a\x8b\x8c\x8d\x8e\x8f"
     "\x90\x91\x92\x93\x94\x95\x96\x97\x98\x99\x9a\x9b\x9c\x9d\x9e\x9f"
     "\xa0\xb1\xb2\xf2\xf3\xf4\xf5\xff"},
    {"keybcs2", SQLM_MB_NONE, false, "\xff", ""},
    {"koi8r", SQLM_MB_NONE, true, "", ""},
    {"koi8u", SQLM_MB_NONE, true, "", ""},
    {"latin1", SQLM_MB_NONE, true, "\xa0", ""},
    {"latin2", SQLM_MB_NONE, false, "\xa0", ""},
    {"latin5", SQLM_MB_NONE, true, "\xa0", ""},
    {"latin7", SQLM_MB_NONE, true, "\xa0", "\x81\x83\x88\x8a\x8c\x90\x98\x9a\x9c\x9f\xa1\xa5"},
    {"macce", SQLM_MB_NONE, false, "", ""},
    {"macroman", SQLM_MB_NONE, false, "", "\x80\xcb\xe5"},
    {"sjis", SQLM_MB_SJIS, true, "", ""},
    {"swe7", SQLM_MB_NONE, true, "", ""},
    {"tis620", SQLM_MB_NONE, true, "", ""},
    {"ujis", SQLM_MB_NONE, true, "", ""},
    {"utf8mb3", SQLM_MB_NONE, true, "", ""},
    {"utf8mb4", SQLM_MB_NONE, true, "", ""},
};

const struct sqlm_charset *sqlm_charset_of(uint16_t collation_id)
{
    const char *name = collation_id == 0 ? "utf8mb4" : charset_name_of(collation_id);
    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof(sqlm_charsets) / sizeof(sqlm_charsets[0]); i++)
        if (strcmp(sqlm_charsets[i].name, name) == 0)
            return &sqlm_charsets[i];
    return NULL;
}

bool sqlm_is_space(const struct sqlm_charset *cs, unsigned char c)
{
    if (c < 0x80)
        return c == ' ' || (c >= '\t' && c <= '\r');
    return cs && strchr(cs->space, c) != NULL;
}

bool sqlm_is_dash_end(const struct sqlm_charset *cs, unsigned char c)
{
    if (c < 0x20 || sqlm_is_space(cs, c))
        return true;
    if (c == 0x7f)
        return !cs || cs->del_cntrl;
    return c >= 0x80 && cs && strchr(cs->cntrl, c) != NULL;
}

static inline bool sqlm_in(unsigned char c, unsigned char lo, unsigned char hi)
{
    return c >= lo && c <= hi;
}

size_t sqlm_mb_len(const struct sqlm_charset *cs, const unsigned char *p, const unsigned char *end)
{
    if (!cs || end - p < 2 || p[0] < 0x80)
        return 0;
    unsigned char a = p[0], b = p[1];
    switch (cs->mb) {
    case SQLM_MB_NONE: return 0;
    case SQLM_MB_GBK:
        return sqlm_in(a, 0x81, 0xfe) && (sqlm_in(b, 0x40, 0x7e) || sqlm_in(b, 0x80, 0xfe)) ? 2
                                                                                             : 0;
    case SQLM_MB_BIG5:
        return sqlm_in(a, 0xa1, 0xf9) && (sqlm_in(b, 0x40, 0x7e) || sqlm_in(b, 0xa1, 0xfe)) ? 2
                                                                                             : 0;
    case SQLM_MB_SJIS:
        return (sqlm_in(a, 0x81, 0x9f) || sqlm_in(a, 0xe0, 0xfc)) &&
                       (sqlm_in(b, 0x40, 0x7e) || sqlm_in(b, 0x80, 0xfc))
                   ? 2
                   : 0;
    case SQLM_MB_GB18030:
        if (!sqlm_in(a, 0x81, 0xfe))
            return 0;
        if (sqlm_in(b, 0x40, 0x7e) || sqlm_in(b, 0x80, 0xfe))
            return 2;
        if (sqlm_in(b, 0x30, 0x39) && end - p >= 4 && sqlm_in(p[2], 0x81, 0xfe) &&
            sqlm_in(p[3], 0x30, 0x39))
            return 4;
        return 0;
    }
    return 0;
}

/* ---- built-in functions ------------------------------------------------- */

enum { FN_N = 1, FN_K, FN_F, FN_T };

/* Generated from a live MariaDB 10.11.19 (database "test", no stored functions):
 * every word of information_schema.KEYWORDS, information_schema.SQL_FUNCTIONS
 * and mysql.help_topic was prepared as `NAME`(a), NAME(a) and NAME (a) for
 * a = nothing, 1, 1,1, 1,1,1 and 'POINT(1 1)'. Error 1630/1305 ("FUNCTION
 * test.NAME does not exist") means the server looked for a stored function.
 * FN_N: never (native); FN_K: only quoted (grammar keyword); FN_F: quoted or
 * with a space before '(' (keyword function, IGNORE_SPACE off); words that
 * were a stored function in every spelling are left out. FN_T: TiDB / MySQL 8
 * built-ins MariaDB does not have (built-in when the backend is not MariaDB).
 * Sorted by strcmp(); a missing built-in only costs multiplexing. */
static const struct sqlm_fn_row {
    const char *name;
    unsigned char cls;
} sqlm_fn_rows[] = {
    {"ABS", FN_N}, {"ACCESSIBLE", FN_K}, {"ACOS", FN_N}, {"ADD", FN_K}, {"ADDDATE", FN_F},
    {"ADDTIME", FN_N}, {"ADD_MONTHS", FN_N}, {"AES_DECRYPT", FN_N}, {"AES_ENCRYPT", FN_N},
    {"ALL", FN_K}, {"ALTER", FN_K}, {"ANALYZE", FN_K}, {"AND", FN_K}, {"ANY", FN_K},
    {"ANY_VALUE", FN_T}, {"AREA", FN_N}, {"AS", FN_K}, {"ASBINARY", FN_N}, {"ASC", FN_K},
    {"ASCII", FN_K}, {"ASENSITIVE", FN_K}, {"ASIN", FN_N}, {"ASTEXT", FN_N}, {"ASWKB", FN_N},
    {"ASWKT", FN_N}, {"ATAN", FN_N}, {"ATAN2", FN_N}, {"AVG", FN_K}, {"BACKUP", FN_K},
    {"BEFORE", FN_K}, {"BEGIN", FN_K}, {"BENCHMARK", FN_N}, {"BETWEEN", FN_K}, {"BIGINT", FN_K},
    {"BIN", FN_N}, {"BINARY", FN_K}, {"BINLOG", FN_K}, {"BINLOG_GTID_POS", FN_N},
    {"BIN_TO_UUID", FN_T}, {"BIT", FN_K}, {"BIT_AND", FN_F}, {"BIT_COUNT", FN_N},
    {"BIT_LENGTH", FN_N}, {"BIT_OR", FN_F}, {"BIT_XOR", FN_F}, {"BLOB", FN_K}, {"BOOL", FN_K},
    {"BOOLEAN", FN_K}, {"BOTH", FN_K}, {"BOUNDARY", FN_N}, {"BUFFER", FN_N}, {"BY", FN_K},
    {"BYTE", FN_K}, {"CACHE", FN_K}, {"CALL", FN_K}, {"CASCADE", FN_K}, {"CASE", FN_K},
    {"CAST", FN_F}, {"CEIL", FN_N}, {"CEILING", FN_N}, {"CENTROID", FN_N}, {"CHANGE", FN_K},
    {"CHAR", FN_K}, {"CHARACTER", FN_K}, {"CHARACTER_LENGTH", FN_N}, {"CHARSET", FN_K},
    {"CHAR_LENGTH", FN_N}, {"CHECK", FN_K}, {"CHECKPOINT", FN_K}, {"CHECKSUM", FN_K},
    {"CHR", FN_N}, {"CLOB", FN_K}, {"CLOSE", FN_K}, {"COALESCE", FN_N}, {"CODE", FN_K},
    {"COERCIBILITY", FN_N}, {"COLLATE", FN_K}, {"COLLATION", FN_N}, {"COLUMN", FN_K},
    {"COLUMN_ADD", FN_K}, {"COLUMN_CHECK", FN_N}, {"COLUMN_CREATE", FN_K}, {"COLUMN_DELETE", FN_K},
    {"COLUMN_EXISTS", FN_N}, {"COLUMN_GET", FN_K}, {"COLUMN_JSON", FN_N}, {"COLUMN_LIST", FN_N},
    {"COMMENT", FN_K}, {"COMMIT", FN_K}, {"COMPRESS", FN_N}, {"COMPRESSED", FN_K},
    {"CONCAT", FN_N}, {"CONCAT_OPERATOR_ORACLE", FN_N}, {"CONCAT_WS", FN_N}, {"CONDITION", FN_K},
    {"CONNECTION_ID", FN_N}, {"CONSTRAINT", FN_K}, {"CONTAINS", FN_N}, {"CONTINUE", FN_K},
    {"CONV", FN_N}, {"CONVERT", FN_K}, {"CONVERT_TZ", FN_N}, {"CONVEXHULL", FN_N}, {"COS", FN_N},
    {"COT", FN_N}, {"COUNT", FN_F}, {"CRC32", FN_N}, {"CRC32C", FN_N}, {"CREATE", FN_K},
    {"CROSS", FN_K}, {"CROSSES", FN_N}, {"CUME_DIST", FN_F}, {"CURDATE", FN_F},
    {"CURRENT_DATE", FN_K}, {"CURRENT_RESOURCE_GROUP", FN_T}, {"CURRENT_ROLE", FN_K},
    {"CURRENT_TIME", FN_K}, {"CURRENT_TIMESTAMP", FN_K}, {"CURRENT_USER", FN_K}, {"CURSOR", FN_K},
    {"CURTIME", FN_F}, {"DATABASE", FN_N}, {"DATABASES", FN_K}, {"DATE", FN_K}, {"DATEDIFF", FN_N},
    {"DATETIME", FN_K}, {"DATE_ADD", FN_F}, {"DATE_FORMAT", FN_N}, {"DATE_SUB", FN_F},
    {"DAY", FN_K}, {"DAYNAME", FN_N}, {"DAYOFMONTH", FN_N}, {"DAYOFWEEK", FN_N},
    {"DAYOFYEAR", FN_N}, {"DAY_HOUR", FN_K}, {"DAY_MICROSECOND", FN_K}, {"DAY_MINUTE", FN_K},
    {"DAY_SECOND", FN_K}, {"DEALLOCATE", FN_K}, {"DEC", FN_K}, {"DECIMAL", FN_K},
    {"DECLARE", FN_K}, {"DECODE", FN_N}, {"DECODE_HISTOGRAM", FN_N}, {"DECODE_ORACLE", FN_N},
    {"DEFAULT", FN_K}, {"DEGREES", FN_N}, {"DELAYED", FN_K}, {"DELETE", FN_K},
    {"DELETE_DOMAIN_ID", FN_K}, {"DENSE_RANK", FN_F}, {"DESC", FN_K}, {"DESCRIBE", FN_K},
    {"DES_DECRYPT", FN_N}, {"DES_ENCRYPT", FN_N}, {"DETERMINISTIC", FN_K}, {"DIMENSION", FN_N},
    {"DISJOINT", FN_N}, {"DISTINCT", FN_K}, {"DISTINCTROW", FN_K}, {"DIV", FN_K}, {"DO", FN_K},
    {"DOUBLE", FN_K}, {"DO_DOMAIN_IDS", FN_K}, {"DROP", FN_K}, {"DUAL", FN_K}, {"EACH", FN_K},
    {"ELSE", FN_K}, {"ELSEIF", FN_K}, {"ELT", FN_N}, {"ENCLOSED", FN_K}, {"ENCODE", FN_N},
    {"ENCRYPT", FN_N}, {"END", FN_K}, {"ENDPOINT", FN_N}, {"ENUM", FN_K}, {"ENVELOPE", FN_N},
    {"EQUALS", FN_N}, {"ESCAPED", FN_K}, {"EXAMINED", FN_K}, {"EXCEPT", FN_K}, {"EXCLUDE", FN_K},
    {"EXECUTE", FN_K}, {"EXISTS", FN_K}, {"EXIT", FN_K}, {"EXP", FN_N}, {"EXPLAIN", FN_K},
    {"EXPORT_SET", FN_N}, {"EXTERIORRING", FN_N}, {"EXTRACT", FN_F}, {"EXTRACTVALUE", FN_N},
    {"FALSE", FN_K}, {"FETCH", FN_K}, {"FIELD", FN_N}, {"FIND_IN_SET", FN_N},
    {"FIRST_VALUE", FN_F}, {"FIXED", FN_K}, {"FLOAT", FN_K}, {"FLOAT4", FN_K}, {"FLOAT8", FN_K},
    {"FLOOR", FN_N}, {"FLUSH", FN_K}, {"FOLLOWING", FN_K}, {"FOLLOWS", FN_K}, {"FOR", FN_K},
    {"FORCE", FN_K}, {"FOREIGN", FN_K}, {"FORMAT", FN_N}, {"FORMAT_BYTES", FN_T},
    {"FORMAT_NANO_TIME", FN_T}, {"FOUND_ROWS", FN_N}, {"FROM", FN_K}, {"FROM_BASE64", FN_N},
    {"FROM_DAYS", FN_N}, {"FROM_UNIXTIME", FN_N}, {"FULLTEXT", FN_K}, {"FUNCTION", FN_K},
    {"GEOMCOLLFROMTEXT", FN_N}, {"GEOMCOLLFROMWKB", FN_N}, {"GEOMETRYCOLLECTION", FN_N},
    {"GEOMETRYCOLLECTIONFROMTEXT", FN_N}, {"GEOMETRYCOLLECTIONFROMWKB", FN_N},
    {"GEOMETRYFROMTEXT", FN_N}, {"GEOMETRYFROMWKB", FN_N}, {"GEOMETRYN", FN_N},
    {"GEOMETRYTYPE", FN_N}, {"GEOMFROMTEXT", FN_N}, {"GEOMFROMWKB", FN_N}, {"GET", FN_K},
    {"GET_FORMAT", FN_K}, {"GET_LOCK", FN_N}, {"GLENGTH", FN_N}, {"GLOBAL", FN_K}, {"GRANT", FN_K},
    {"GREATEST", FN_N}, {"GROUP", FN_K}, {"GROUPING", FN_T}, {"GROUP_CONCAT", FN_F},
    {"HANDLER", FN_K}, {"HAVING", FN_K}, {"HELP", FN_K}, {"HEX", FN_N}, {"HIGH_PRIORITY", FN_K},
    {"HOST", FN_K}, {"HOUR", FN_K}, {"HOUR_MICROSECOND", FN_K}, {"HOUR_MINUTE", FN_K},
    {"HOUR_SECOND", FN_K}, {"ICU_VERSION", FN_T}, {"ID", FN_K}, {"IF", FN_K}, {"IFNULL", FN_N},
    {"IGNORE", FN_K}, {"IGNORED", FN_K}, {"IGNORE_DOMAIN_IDS", FN_K}, {"IN", FN_K},
    {"INDEX", FN_K}, {"INET6_ATON", FN_N}, {"INET6_NTOA", FN_N}, {"INET_ATON", FN_N},
    {"INET_NTOA", FN_N}, {"INFILE", FN_K}, {"INNER", FN_K}, {"INOUT", FN_K}, {"INSENSITIVE", FN_K},
    {"INSERT", FN_K}, {"INSTALL", FN_K}, {"INSTR", FN_N}, {"INT", FN_K}, {"INT1", FN_K},
    {"INT2", FN_K}, {"INT3", FN_K}, {"INT4", FN_K}, {"INT8", FN_K}, {"INTEGER", FN_K},
    {"INTERIORRINGN", FN_N}, {"INTERSECT", FN_K}, {"INTERSECTS", FN_N}, {"INTERVAL", FN_K},
    {"INTO", FN_K}, {"IS", FN_K}, {"ISCLOSED", FN_N}, {"ISEMPTY", FN_N}, {"ISNULL", FN_N},
    {"ISRING", FN_N}, {"ISSIMPLE", FN_N}, {"IS_FREE_LOCK", FN_N}, {"IS_IPV4", FN_N},
    {"IS_IPV4_COMPAT", FN_N}, {"IS_IPV4_MAPPED", FN_N}, {"IS_IPV6", FN_N}, {"IS_USED_LOCK", FN_N},
    {"IS_UUID", FN_T}, {"ITERATE", FN_K}, {"JOIN", FN_K}, {"JSON", FN_K}, {"JSON_ARRAY", FN_N},
    {"JSON_ARRAYAGG", FN_F}, {"JSON_ARRAY_APPEND", FN_N}, {"JSON_ARRAY_INSERT", FN_N},
    {"JSON_COMPACT", FN_N}, {"JSON_CONTAINS", FN_N}, {"JSON_CONTAINS_PATH", FN_N},
    {"JSON_DEPTH", FN_N}, {"JSON_DETAILED", FN_N}, {"JSON_EQUALS", FN_N}, {"JSON_EXISTS", FN_N},
    {"JSON_EXTRACT", FN_N}, {"JSON_INSERT", FN_N}, {"JSON_KEYS", FN_N}, {"JSON_LENGTH", FN_N},
    {"JSON_LOOSE", FN_N}, {"JSON_MEMBEROF", FN_T}, {"JSON_MERGE", FN_N},
    {"JSON_MERGE_PATCH", FN_N}, {"JSON_MERGE_PRESERVE", FN_N}, {"JSON_NORMALIZE", FN_N},
    {"JSON_OBJECT", FN_N}, {"JSON_OBJECTAGG", FN_F}, {"JSON_OVERLAPS", FN_N},
    {"JSON_PRETTY", FN_N}, {"JSON_QUERY", FN_N}, {"JSON_QUOTE", FN_N}, {"JSON_REMOVE", FN_N},
    {"JSON_REPLACE", FN_N}, {"JSON_SCHEMA_VALID", FN_T}, {"JSON_SEARCH", FN_N}, {"JSON_SET", FN_N},
    {"JSON_STORAGE_FREE", FN_T}, {"JSON_STORAGE_SIZE", FN_T}, {"JSON_TYPE", FN_N},
    {"JSON_UNQUOTE", FN_N}, {"JSON_VALID", FN_N}, {"JSON_VALUE", FN_N}, {"KEY", FN_K},
    {"KEYS", FN_K}, {"KILL", FN_K}, {"LAG", FN_F}, {"LANGUAGE", FN_K}, {"LASTVAL", FN_K},
    {"LAST_DAY", FN_N}, {"LAST_INSERT_ID", FN_N}, {"LAST_VALUE", FN_K}, {"LCASE", FN_N},
    {"LEAD", FN_F}, {"LEADING", FN_K}, {"LEAST", FN_N}, {"LEAVE", FN_K}, {"LEFT", FN_K},
    {"LENGTH", FN_N}, {"LENGTHB", FN_N}, {"LIKE", FN_K}, {"LIMIT", FN_K}, {"LINEAR", FN_K},
    {"LINEFROMTEXT", FN_N}, {"LINEFROMWKB", FN_N}, {"LINES", FN_K}, {"LINESTRING", FN_N},
    {"LINESTRINGFROMTEXT", FN_N}, {"LINESTRINGFROMWKB", FN_N}, {"LN", FN_N}, {"LOAD", FN_K},
    {"LOAD_FILE", FN_N}, {"LOCAL", FN_K}, {"LOCALTIME", FN_K}, {"LOCALTIMESTAMP", FN_K},
    {"LOCATE", FN_N}, {"LOCK", FN_K}, {"LOG", FN_N}, {"LOG10", FN_N}, {"LOG2", FN_N},
    {"LONG", FN_K}, {"LONGBLOB", FN_K}, {"LONGTEXT", FN_K}, {"LOOP", FN_K}, {"LOWER", FN_N},
    {"LOW_PRIORITY", FN_K}, {"LPAD", FN_N}, {"LPAD_ORACLE", FN_N}, {"LTRIM", FN_N},
    {"LTRIM_ORACLE", FN_N}, {"MAKEDATE", FN_N}, {"MAKETIME", FN_N}, {"MAKE_SET", FN_N},
    {"MASTER_DEMOTE_TO_REPLICA", FN_K}, {"MASTER_DEMOTE_TO_SLAVE", FN_K},
    {"MASTER_GTID_WAIT", FN_N}, {"MASTER_POS_WAIT", FN_N}, {"MASTER_SSL_VERIFY_SERVER_CERT", FN_K},
    {"MATCH", FN_K}, {"MAX", FN_F}, {"MAXVALUE", FN_K}, {"MBRCONTAINS", FN_N},
    {"MBRDISJOINT", FN_N}, {"MBREQUAL", FN_N}, {"MBRINTERSECTS", FN_N}, {"MBROVERLAPS", FN_N},
    {"MBRTOUCHES", FN_N}, {"MBRWITHIN", FN_N}, {"MD5", FN_N}, {"MEDIAN", FN_F}, {"MEDIUM", FN_K},
    {"MEDIUMBLOB", FN_K}, {"MEDIUMINT", FN_K}, {"MEDIUMTEXT", FN_K}, {"MICROSECOND", FN_N},
    {"MID", FN_F}, {"MIDDLEINT", FN_K}, {"MIN", FN_F}, {"MINUTE", FN_K},
    {"MINUTE_MICROSECOND", FN_K}, {"MINUTE_SECOND", FN_K}, {"MLINEFROMTEXT", FN_N},
    {"MLINEFROMWKB", FN_N}, {"MOD", FN_N}, {"MODIFIES", FN_K}, {"MONTH", FN_K},
    {"MONTHNAME", FN_N}, {"MPOINTFROMTEXT", FN_N}, {"MPOINTFROMWKB", FN_N},
    {"MPOLYFROMTEXT", FN_N}, {"MPOLYFROMWKB", FN_N}, {"MULTILINESTRING", FN_N},
    {"MULTILINESTRINGFROMTEXT", FN_N}, {"MULTILINESTRINGFROMWKB", FN_N}, {"MULTIPOINT", FN_N},
    {"MULTIPOINTFROMTEXT", FN_N}, {"MULTIPOINTFROMWKB", FN_N}, {"MULTIPOLYGON", FN_N},
    {"MULTIPOLYGONFROMTEXT", FN_N}, {"MULTIPOLYGONFROMWKB", FN_N}, {"NAMES", FN_K},
    {"NAME_CONST", FN_N}, {"NATIONAL", FN_K}, {"NATURAL", FN_K}, {"NATURAL_SORT_KEY", FN_N},
    {"NCHAR", FN_K}, {"NEXTVAL", FN_K}, {"NO", FN_K}, {"NOT", FN_K}, {"NOW", FN_F},
    {"NO_WRITE_TO_BINLOG", FN_K}, {"NTH_VALUE", FN_F}, {"NTILE", FN_F}, {"NULL", FN_K},
    {"NULLIF", FN_N}, {"NUMBER", FN_K}, {"NUMERIC", FN_K}, {"NUMGEOMETRIES", FN_N},
    {"NUMINTERIORRINGS", FN_N}, {"NUMPOINTS", FN_N}, {"NVARCHAR", FN_K}, {"NVL", FN_N},
    {"NVL2", FN_N}, {"OCT", FN_N}, {"OCTET_LENGTH", FN_N}, {"OFFSET", FN_K},
    {"OLD_PASSWORD", FN_N}, {"ON", FN_K}, {"OPEN", FN_K}, {"OPTIMIZE", FN_K}, {"OPTION", FN_K},
    {"OPTIONALLY", FN_K}, {"OPTIONS", FN_K}, {"OR", FN_K}, {"ORD", FN_N}, {"ORDER", FN_K},
    {"OTHERS", FN_K}, {"OUT", FN_K}, {"OUTER", FN_K}, {"OUTFILE", FN_K}, {"OVER", FN_K},
    {"OVERLAPS", FN_N}, {"OWNER", FN_K}, {"PAGE_CHECKSUM", FN_K}, {"PARSER", FN_K},
    {"PARSE_VCOL_EXPR", FN_K}, {"PARTITION", FN_K}, {"PASSWORD", FN_N}, {"PERCENTILE_CONT", FN_F},
    {"PERCENTILE_DISC", FN_F}, {"PERCENT_RANK", FN_F}, {"PERIOD", FN_K}, {"PERIOD_ADD", FN_N},
    {"PERIOD_DIFF", FN_N}, {"PI", FN_N}, {"POINT", FN_N}, {"POINTFROMTEXT", FN_N},
    {"POINTFROMWKB", FN_N}, {"POINTN", FN_N}, {"POINTONSURFACE", FN_N}, {"POLYFROMTEXT", FN_N},
    {"POLYFROMWKB", FN_N}, {"POLYGON", FN_N}, {"POLYGONFROMTEXT", FN_N}, {"POLYGONFROMWKB", FN_N},
    {"PORT", FN_K}, {"PORTION", FN_K}, {"POSITION", FN_F}, {"POW", FN_N}, {"POWER", FN_N},
    {"PRECEDES", FN_K}, {"PRECEDING", FN_K}, {"PRECISION", FN_K}, {"PREPARE", FN_K},
    {"PRIMARY", FN_K}, {"PROCEDURE", FN_K}, {"PURGE", FN_K}, {"QUARTER", FN_N}, {"QUOTE", FN_N},
    {"RADIANS", FN_N}, {"RAND", FN_N}, {"RANDOM_BYTES", FN_N}, {"RANGE", FN_K}, {"RANK", FN_F},
    {"RAW", FN_K}, {"READ", FN_K}, {"READS", FN_K}, {"READ_WRITE", FN_K}, {"REAL", FN_K},
    {"RECURSIVE", FN_K}, {"REFERENCES", FN_K}, {"REF_SYSTEM_ID", FN_K}, {"REGEXP", FN_K},
    {"REGEXP_INSTR", FN_N}, {"REGEXP_LIKE", FN_T}, {"REGEXP_REPLACE", FN_N},
    {"REGEXP_SUBSTR", FN_N}, {"RELEASE", FN_K}, {"RELEASE_ALL_LOCKS", FN_N},
    {"RELEASE_LOCK", FN_N}, {"REMOVE", FN_K}, {"RENAME", FN_K}, {"REPAIR", FN_K}, {"REPEAT", FN_K},
    {"REPLACE", FN_K}, {"REPLACE_ORACLE", FN_N}, {"REPLICA", FN_K}, {"REPLICAS", FN_K},
    {"REQUIRE", FN_K}, {"RESET", FN_K}, {"RESIGNAL", FN_K}, {"RESTORE", FN_K}, {"RESTRICT", FN_K},
    {"RETURN", FN_K}, {"RETURNING", FN_K}, {"REVERSE", FN_N}, {"REVOKE", FN_K}, {"RIGHT", FN_K},
    {"RLIKE", FN_K}, {"ROLE", FN_K}, {"ROLES_GRAPHML", FN_T}, {"ROLLBACK", FN_K}, {"ROUND", FN_N},
    {"ROW", FN_K}, {"ROWNUM", FN_K}, {"ROWS", FN_K}, {"ROW_COUNT", FN_N}, {"ROW_NUMBER", FN_K},
    {"RPAD", FN_N}, {"RPAD_ORACLE", FN_N}, {"RTRIM", FN_N}, {"RTRIM_ORACLE", FN_N},
    {"SAVEPOINT", FN_K}, {"SCHEMA", FN_N}, {"SCHEMAS", FN_N}, {"SECOND", FN_K},
    {"SECOND_MICROSECOND", FN_K}, {"SECURITY", FN_K}, {"SEC_TO_TIME", FN_N}, {"SELECT", FN_K},
    {"SENSITIVE", FN_K}, {"SEPARATOR", FN_K}, {"SERIAL", FN_K}, {"SERVER", FN_K},
    {"SESSION", FN_K}, {"SESSION_USER", FN_F}, {"SET", FN_K}, {"SETVAL", FN_K}, {"SFORMAT", FN_N},
    {"SHA", FN_N}, {"SHA1", FN_N}, {"SHA2", FN_N}, {"SHOW", FN_K}, {"SHUTDOWN", FN_K},
    {"SIGN", FN_N}, {"SIGNAL", FN_K}, {"SIGNED", FN_K}, {"SIN", FN_N}, {"SLAVE", FN_K},
    {"SLAVES", FN_K}, {"SLEEP", FN_N}, {"SMALLINT", FN_K}, {"SOCKET", FN_K}, {"SOME", FN_K},
    {"SONAME", FN_K}, {"SOUNDEX", FN_N}, {"SOUNDS", FN_K}, {"SPACE", FN_N}, {"SPATIAL", FN_K},
    {"SPECIFIC", FN_K}, {"SQL", FN_K}, {"SQLEXCEPTION", FN_K}, {"SQLSTATE", FN_K},
    {"SQLWARNING", FN_K}, {"SQL_BIG_RESULT", FN_K}, {"SQL_BUFFER_RESULT", FN_K},
    {"SQL_CACHE", FN_K}, {"SQL_CALC_FOUND_ROWS", FN_K}, {"SQL_NO_CACHE", FN_K},
    {"SQL_SMALL_RESULT", FN_K}, {"SQL_TSI_DAY", FN_K}, {"SQL_TSI_HOUR", FN_K},
    {"SQL_TSI_MINUTE", FN_K}, {"SQL_TSI_MONTH", FN_K}, {"SQL_TSI_SECOND", FN_K},
    {"SQL_TSI_YEAR", FN_K}, {"SQRT", FN_N}, {"SRID", FN_N}, {"SSL", FN_K}, {"START", FN_K},
    {"STARTING", FN_K}, {"STARTPOINT", FN_N}, {"STATEMENT_DIGEST", FN_T},
    {"STATEMENT_DIGEST_TEXT", FN_T}, {"STATS_AUTO_RECALC", FN_K}, {"STATS_PERSISTENT", FN_K},
    {"STATS_SAMPLE_PAGES", FN_K}, {"STD", FN_F}, {"STDDEV", FN_F}, {"STDDEV_POP", FN_F},
    {"STDDEV_SAMP", FN_F}, {"STOP", FN_K}, {"STORED", FN_K}, {"STRAIGHT_JOIN", FN_K},
    {"STRCMP", FN_N}, {"STR_TO_DATE", FN_N}, {"ST_AREA", FN_N}, {"ST_ASBINARY", FN_N},
    {"ST_ASGEOJSON", FN_N}, {"ST_ASTEXT", FN_N}, {"ST_ASWKB", FN_N}, {"ST_ASWKT", FN_N},
    {"ST_BOUNDARY", FN_N}, {"ST_BUFFER", FN_N}, {"ST_CENTROID", FN_N}, {"ST_CONTAINS", FN_N},
    {"ST_CONVEXHULL", FN_N}, {"ST_CROSSES", FN_N}, {"ST_DIFFERENCE", FN_N}, {"ST_DIMENSION", FN_N},
    {"ST_DISJOINT", FN_N}, {"ST_DISTANCE", FN_N}, {"ST_DISTANCE_SPHERE", FN_N},
    {"ST_ENDPOINT", FN_N}, {"ST_ENVELOPE", FN_N}, {"ST_EQUALS", FN_N}, {"ST_EXTERIORRING", FN_N},
    {"ST_GEOMCOLLFROMTEXT", FN_N}, {"ST_GEOMCOLLFROMWKB", FN_N},
    {"ST_GEOMETRYCOLLECTIONFROMTEXT", FN_N}, {"ST_GEOMETRYCOLLECTIONFROMWKB", FN_N},
    {"ST_GEOMETRYFROMTEXT", FN_N}, {"ST_GEOMETRYFROMWKB", FN_N}, {"ST_GEOMETRYN", FN_N},
    {"ST_GEOMETRYTYPE", FN_N}, {"ST_GEOMFROMGEOJSON", FN_N}, {"ST_GEOMFROMTEXT", FN_N},
    {"ST_GEOMFROMWKB", FN_N}, {"ST_INTERIORRINGN", FN_N}, {"ST_INTERSECTION", FN_N},
    {"ST_INTERSECTS", FN_N}, {"ST_ISCLOSED", FN_N}, {"ST_ISEMPTY", FN_N}, {"ST_ISRING", FN_N},
    {"ST_ISSIMPLE", FN_N}, {"ST_LENGTH", FN_N}, {"ST_LINEFROMTEXT", FN_N},
    {"ST_LINEFROMWKB", FN_N}, {"ST_LINESTRINGFROMTEXT", FN_N}, {"ST_LINESTRINGFROMWKB", FN_N},
    {"ST_MLINEFROMTEXT", FN_N}, {"ST_MPOINTFROMTEXT", FN_N}, {"ST_MPOINTFROMWKB", FN_N},
    {"ST_MPOLYFROMTEXT", FN_N}, {"ST_MPOLYFROMWKB", FN_N}, {"ST_MULTILINESTRINGFROMTEXT", FN_N},
    {"ST_MULTIPOINTFROMTEXT", FN_N}, {"ST_MULTIPOINTFROMWKB", FN_N},
    {"ST_MULTIPOLYGONFROMTEXT", FN_N}, {"ST_MULTIPOLYGONFROMWKB", FN_N},
    {"ST_NUMGEOMETRIES", FN_N}, {"ST_NUMINTERIORRINGS", FN_N}, {"ST_NUMPOINTS", FN_N},
    {"ST_OVERLAPS", FN_N}, {"ST_POINTFROMTEXT", FN_N}, {"ST_POINTFROMWKB", FN_N},
    {"ST_POINTN", FN_N}, {"ST_POINTONSURFACE", FN_N}, {"ST_POLYFROMTEXT", FN_N},
    {"ST_POLYFROMWKB", FN_N}, {"ST_POLYGONFROMTEXT", FN_N}, {"ST_POLYGONFROMWKB", FN_N},
    {"ST_RELATE", FN_N}, {"ST_SRID", FN_N}, {"ST_STARTPOINT", FN_N}, {"ST_SYMDIFFERENCE", FN_N},
    {"ST_TOUCHES", FN_N}, {"ST_UNION", FN_N}, {"ST_WITHIN", FN_N}, {"ST_X", FN_N}, {"ST_Y", FN_N},
    {"SUBDATE", FN_F}, {"SUBSTR", FN_F}, {"SUBSTRING", FN_F}, {"SUBSTRING_INDEX", FN_N},
    {"SUBSTR_ORACLE", FN_N}, {"SUBTIME", FN_N}, {"SUM", FN_F}, {"SYSDATE", FN_K},
    {"SYSTEM_USER", FN_F}, {"SYS_GUID", FN_N}, {"TABLE", FN_K}, {"TAN", FN_N},
    {"TERMINATED", FN_K}, {"TEXT", FN_K}, {"THEN", FN_K}, {"TIDB_BOUNDED_STALENESS", FN_T},
    {"TIDB_CURRENT_TSO", FN_T}, {"TIDB_DECODE_BINARY_PLAN", FN_T}, {"TIDB_DECODE_KEY", FN_T},
    {"TIDB_DECODE_PLAN", FN_T}, {"TIDB_DECODE_SQL_DIGESTS", FN_T}, {"TIDB_ENCODE_INDEX_KEY", FN_T},
    {"TIDB_ENCODE_RECORD_KEY", FN_T}, {"TIDB_ENCODE_SQL_DIGESTS", FN_T},
    {"TIDB_IS_DDL_OWNER", FN_T}, {"TIDB_MVCC_INFO", FN_T}, {"TIDB_PARSE_TSO", FN_T},
    {"TIDB_PARSE_TSO_LOGICAL", FN_T}, {"TIDB_ROW_CHECKSUM", FN_T}, {"TIDB_SHARD", FN_T},
    {"TIDB_VERSION", FN_T}, {"TIES", FN_K}, {"TIME", FN_K}, {"TIMEDIFF", FN_N},
    {"TIMESTAMP", FN_K}, {"TIMESTAMPADD", FN_K}, {"TIMESTAMPDIFF", FN_K}, {"TIME_FORMAT", FN_N},
    {"TIME_TO_SEC", FN_N}, {"TINYBLOB", FN_K}, {"TINYINT", FN_K}, {"TINYTEXT", FN_K}, {"TO", FN_K},
    {"TOUCHES", FN_N}, {"TO_BASE64", FN_N}, {"TO_CHAR", FN_N}, {"TO_DAYS", FN_N},
    {"TO_SECONDS", FN_N}, {"TRAILING", FN_K}, {"TRIGGER", FN_K}, {"TRIM", FN_F},
    {"TRIM_ORACLE", FN_F}, {"TRUE", FN_K}, {"TRUNCATE", FN_K}, {"UCASE", FN_N},
    {"UNBOUNDED", FN_K}, {"UNCOMPRESS", FN_N}, {"UNCOMPRESSED_LENGTH", FN_N}, {"UNDO", FN_K},
    {"UNHEX", FN_N}, {"UNICODE", FN_K}, {"UNINSTALL", FN_K}, {"UNION", FN_K}, {"UNIQUE", FN_K},
    {"UNIX_TIMESTAMP", FN_N}, {"UNLOCK", FN_K}, {"UNSIGNED", FN_K}, {"UPDATE", FN_K},
    {"UPDATEXML", FN_N}, {"UPGRADE", FN_K}, {"UPPER", FN_N}, {"USAGE", FN_K}, {"USE", FN_K},
    {"USER", FN_K}, {"USING", FN_K}, {"UTC_DATE", FN_K}, {"UTC_TIME", FN_K},
    {"UTC_TIMESTAMP", FN_K}, {"UUID", FN_N}, {"UUID_SHORT", FN_N}, {"UUID_TO_BIN", FN_T},
    {"VALIDATE_PASSWORD_STRENGTH", FN_T}, {"VALUE", FN_K}, {"VALUES", FN_K}, {"VARBINARY", FN_K},
    {"VARCHAR", FN_K}, {"VARCHAR2", FN_K}, {"VARCHARACTER", FN_K}, {"VARIANCE", FN_F},
    {"VARYING", FN_K}, {"VAR_POP", FN_F}, {"VAR_SAMP", FN_F}, {"VERSION", FN_N},
    {"VITESS_HASH", FN_T}, {"WEEK", FN_N}, {"WEEKDAY", FN_N}, {"WEEKOFYEAR", FN_N},
    {"WEIGHT_STRING", FN_K}, {"WHEN", FN_K}, {"WHERE", FN_K}, {"WHILE", FN_K}, {"WINDOW", FN_K},
    {"WITH", FN_K}, {"WITHIN", FN_N}, {"WRAPPER", FN_K}, {"WRITE", FN_K},
    {"WSREP_LAST_SEEN_GTID", FN_N}, {"WSREP_LAST_WRITTEN_GTID", FN_N},
    {"WSREP_SYNC_WAIT_UPTO_GTID", FN_N}, {"X", FN_N}, {"XA", FN_K}, {"XOR", FN_K}, {"Y", FN_N},
    {"YEAR", FN_K}, {"YEARWEEK", FN_N}, {"YEAR_MONTH", FN_K}, {"ZEROFILL", FN_K},
};

static int sqlm_fn_cmp(const void *key, const void *elem)
{
    const char *k = key;
    const struct sqlm_fn_row *r = elem;
    return strcmp(k, r->name);
}

enum sqlm_fn sqlm_function(const char *name, size_t len, bool mariadb)
{
    char up[32];
    if (len == 0 || len >= sizeof(up))
        return SQLM_FN_UNKNOWN;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        up[i] = c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
    }
    up[len] = '\0';
    const struct sqlm_fn_row *r =
        bsearch(up, sqlm_fn_rows, sizeof(sqlm_fn_rows) / sizeof(sqlm_fn_rows[0]),
                sizeof(sqlm_fn_rows[0]), sqlm_fn_cmp);
    if (!r)
        return SQLM_FN_UNKNOWN;
    switch (r->cls) {
    case FN_N: return SQLM_FN_NATIVE;
    case FN_K: return SQLM_FN_KEYWORD;
    case FN_F: return SQLM_FN_KWFUNC;
    default: return mariadb ? SQLM_FN_UNKNOWN : SQLM_FN_NATIVE;
    }
}

/* ---- sql_mode ----------------------------------------------------------- */

/* Bits of sql_mode as a number (MariaDB 10.11 and MySQL 5.7 agree on these;
 * MySQL 8 rejects 8-12). Verified on MariaDB 10.11.19 with SET sql_mode=1<<i
 * then SELECT @@sql_mode. */
#define SQLM_BIT_ANSI_QUOTES (1ull << 2)
#define SQLM_BIT_POSTGRESQL (1ull << 8)
#define SQLM_BIT_ORACLE (1ull << 9)
#define SQLM_BIT_MSSQL (1ull << 10)
#define SQLM_BIT_DB2 (1ull << 11)
#define SQLM_BIT_MAXDB (1ull << 12)
#define SQLM_BIT_ANSI (1ull << 18)
#define SQLM_BIT_NO_BACKSLASH_ESCAPES (1ull << 20)
#define SQLM_BITS_KNOWN ((1ull << 35) - 1)

enum { SM_NONE, SM_ANSI_QUOTES, SM_NOBS, SM_PIN };

/* Every name MariaDB 10.11, MySQL 8 or TiDB accepts, with what it does to the
 * lexer. The combination modes expand as the live server shows after SET
 * (ANSI, POSTGRESQL, DB2, MAXDB: ANSI_QUOTES among others). ORACLE (PL/SQL
 * blocks: "BEGIN ... END" runs a program) and MSSQL ([a'b] is an identifier)
 * change the grammar beyond the two flags: not understood, the caller pins. */
static const struct {
    const char *name;
    int effect;
} sqlm_modes[] = {
    {"ALLOW_INVALID_DATES", SM_NONE},
    {"ANSI", SM_ANSI_QUOTES},
    {"ANSI_QUOTES", SM_ANSI_QUOTES},
    {"DB2", SM_ANSI_QUOTES},
    {"EMPTY_STRING_IS_NULL", SM_NONE},
    {"ERROR_FOR_DIVISION_BY_ZERO", SM_NONE},
    {"HIGH_NOT_PRECEDENCE", SM_NONE},
    {"IGNORE_BAD_TABLE_OPTIONS", SM_NONE},
    {"IGNORE_SPACE", SM_NONE},
    {"MAXDB", SM_ANSI_QUOTES},
    {"MSSQL", SM_PIN},
    {"MYSQL323", SM_NONE},
    {"MYSQL40", SM_NONE},
    {"NO_AUTO_CREATE_USER", SM_NONE},
    {"NO_AUTO_VALUE_ON_ZERO", SM_NONE},
    {"NO_BACKSLASH_ESCAPES", SM_NOBS},
    {"NO_DIR_IN_CREATE", SM_NONE},
    {"NO_ENGINE_SUBSTITUTION", SM_NONE},
    {"NO_FIELD_OPTIONS", SM_NONE},
    {"NO_KEY_OPTIONS", SM_NONE},
    {"NO_TABLE_OPTIONS", SM_NONE},
    {"NO_UNSIGNED_SUBTRACTION", SM_NONE},
    {"NO_ZERO_DATE", SM_NONE},
    {"NO_ZERO_IN_DATE", SM_NONE},
    {"ONLY_FULL_GROUP_BY", SM_NONE},
    {"ORACLE", SM_PIN},
    {"PAD_CHAR_TO_FULL_LENGTH", SM_NONE},
    {"PIPES_AS_CONCAT", SM_NONE},
    {"POSTGRESQL", SM_ANSI_QUOTES},
    {"REAL_AS_FLOAT", SM_NONE},
    {"SIMULTANEOUS_ASSIGNMENT", SM_NONE},
    {"STRICT_ALL_TABLES", SM_NONE},
    {"STRICT_TRANS_TABLES", SM_NONE},
    {"TIME_ROUND_FRACTIONAL", SM_NONE},
    {"TIME_TRUNCATE_FRACTIONAL", SM_NONE},
    {"TRADITIONAL", SM_NONE},
};

static int sqlm_mode_effect(const char *p, size_t n)
{
    for (size_t i = 0; i < sizeof(sqlm_modes) / sizeof(sqlm_modes[0]); i++)
        if (strlen(sqlm_modes[i].name) == n && strncasecmp(p, sqlm_modes[i].name, n) == 0)
            return sqlm_modes[i].effect;
    return -1;
}

static int sqlm_mode_number(const char *v, size_t n, bool *ansi, bool *nobs)
{
    uint64_t bits = 0;
    if (n > 19)
        return -1;
    for (size_t i = 0; i < n; i++)
        bits = bits * 10 + (uint64_t)(v[i] - '0');
    if (bits & ~SQLM_BITS_KNOWN || bits & (SQLM_BIT_ORACLE | SQLM_BIT_MSSQL))
        return -1;
    *ansi = (bits & (SQLM_BIT_ANSI_QUOTES | SQLM_BIT_POSTGRESQL | SQLM_BIT_DB2 | SQLM_BIT_MAXDB |
                     SQLM_BIT_ANSI)) != 0;
    *nobs = (bits & SQLM_BIT_NO_BACKSLASH_ESCAPES) != 0;
    return 0;
}

int cls_sql_mode_flags(const char *v, size_t n, bool *ansi_quotes, bool *no_backslash_escapes)
{
    bool ansi = false, nobs = false;
    if (!v)
        return -1;
    while (n > 0 && sqlm_is_space(NULL, (unsigned char)v[0]))
        v++, n--;
    while (n > 0 && sqlm_is_space(NULL, (unsigned char)v[n - 1]))
        n--;
    if (n > 0 && (v[0] == '\'' || v[0] == '"' || v[0] == '`')) {
        /* a literal: no escapes or doubled quotes in a list of names */
        if (n < 2 || v[n - 1] != v[0] || memchr(v + 1, v[0], n - 2) || memchr(v, '\\', n))
            return -1;
        v++;
        n -= 2;
    }
    size_t digits = 0;
    while (digits < n && v[digits] >= '0' && v[digits] <= '9')
        digits++;
    if (n > 0 && digits == n) {
        if (sqlm_mode_number(v, n, &ansi, &nobs) < 0)
            return -1;
    } else {
        /* names, comma separated, empty ones allowed (the server takes 'ansi,,') */
        for (size_t i = 0; i < n;) {
            size_t j = i;
            while (j < n && v[j] != ',')
                j++;
            if (j > i) {
                int e = sqlm_mode_effect(v + i, j - i);
                if (e < 0 || e == SM_PIN)
                    return -1;
                ansi = ansi || e == SM_ANSI_QUOTES;
                nobs = nobs || e == SM_NOBS;
            }
            i = j + 1;
        }
    }
    *ansi_quotes = ansi;
    *no_backslash_escapes = nobs;
    return 0;
}
