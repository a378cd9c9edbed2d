#include "labels.h"

#include "error.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

typedef struct label_entry {
  const char *enum_name; /* full name, as in ProtobufCEnumDescriptor.name */
  const char *value;     /* value name */
  const char *label;
} label_entry;

/*
 * The label each value prints as. Zero values mostly have none: a field at
 * its zero value is "not set" and prints as an empty cell. Certification's
 * zero is a real answer (无), so it is labelled and can be typed back.
 */
static const label_entry labels[] = {
  {"shegong.v1.UnitKind", "DISTRICT", "区"},
  {"shegong.v1.UnitKind", "TOWN", "街镇"},
  {"shegong.v1.UnitKind", "COMMUNITY", "居委会"},
  {"shegong.v1.UnitKind", "VILLAGE", "村"},
  {"shegong.v1.UnitKind", "GRID", "网格"},

  {"shegong.v1.Gender", "MALE", "男"},
  {"shegong.v1.Gender", "FEMALE", "女"},

  {"shegong.v1.Education", "HIGH_SCHOOL_OR_BELOW", "高中及以下"},
  {"shegong.v1.Education", "COLLEGE", "大专"},
  {"shegong.v1.Education", "BACHELOR", "本科"},
  {"shegong.v1.Education", "POSTGRADUATE", "研究生"},

  {"shegong.v1.Category", "COMMUNITY_BASED", "居民区社工"},
  {"shegong.v1.Category", "TOWN_CENTRE", "街镇中心社工"},
  {"shegong.v1.Category", "TOWN_MANAGED", "镇管社区社工"},

  {"shegong.v1.Role", "SECRETARY", "书记"},
  {"shegong.v1.Role", "DIRECTOR", "主任"},
  {"shegong.v1.Role", "GENERALIST", "全科社工"},
  {"shegong.v1.Role", "NEIGHBOURHOOD", "邻里社工"},
  {"shegong.v1.Role", "GRID_WORKER", "网格社工"},
  {"shegong.v1.Role", "FULL_TIME_GRID", "专职网格员"},

  {"shegong.v1.Source", "OPEN_EXAM", "公开招考"},
  {"shegong.v1.Source", "ENTERPRISE", "企业吸纳"},
  {"shegong.v1.Source", "COMMITTEE_CADRE", "居委干部"},
  {"shegong.v1.Source", "GRADUATE", "高校毕业生"},
  {"shegong.v1.Source", "VETERAN", "退役军人"},
  {"shegong.v1.Source", "SANZHI_YIFU", "三支一扶"},
  {"shegong.v1.Source", "SOCIAL_WORKER", "持证社工"},
  {"shegong.v1.Source", "VILLAGE_COMMITTEE", "村两委"},
  {"shegong.v1.Source", "VOLUNTEER", "志愿者"},
  {"shegong.v1.Source", "GRID_CONVERSION", "网格员转任"},

  {"shegong.v1.Certification", "CERTIFICATION_NONE", "无"},
  {"shegong.v1.Certification", "ASSISTANT_SOCIAL_WORKER", "助理社会工作师"},
  {"shegong.v1.Certification", "SOCIAL_WORKER_CERT", "社会工作师"},
  {"shegong.v1.Certification", "SENIOR_SOCIAL_WORKER", "高级社会工作师"},

  {"shegong.v1.WorkerStatus", "ACTIVE", "在岗"},
  {"shegong.v1.WorkerStatus", "PLACEMENT", "首年下沉"},
  {"shegong.v1.WorkerStatus", "ROTATING", "轮岗"},
  {"shegong.v1.WorkerStatus", "LEFT", "离职"},

  {"shegong.v1.AssessmentKind", "REGULAR", "平时"},
  {"shegong.v1.AssessmentKind", "YEAR_END", "年终"},
  {"shegong.v1.AssessmentKind", "SPECIAL", "专项"},
  {"shegong.v1.AssessmentKind", "COMPREHENSIVE", "综合"},

  {"shegong.v1.Grade", "EXCELLENT", "优秀"},
  {"shegong.v1.Grade", "QUALIFIED", "合格"},
  {"shegong.v1.Grade", "BASICALLY_QUALIFIED", "基本合格"},
  {"shegong.v1.Grade", "UNQUALIFIED", "不合格"},

  {"shegong.v1.StepRule", "EARLY_STEP_RULE", "提前升级"},
  {"shegong.v1.StepRule", "PERIODIC_STEP_RULE", "定期晋档"},

  {"shegong.v1.LevelChangeKind", "EARLY_STEP", "提前升级"},
  {"shegong.v1.LevelChangeKind", "PERIODIC_STEP", "定期晋档"},
  {"shegong.v1.LevelChangeKind", "PROMOTION", "升岗"},
  {"shegong.v1.LevelChangeKind", "DEMOTION", "降岗"},
  {"shegong.v1.LevelChangeKind", "ADJUSTMENT", "调整"},

  {"shegong.v1.CourseKind", "PRE_SERVICE", "岗前"},
  {"shegong.v1.CourseKind", "ANNUAL", "年度"},
  {"shegong.v1.CourseKind", "PROMOTION_COURSE", "升岗"},
  {"shegong.v1.CourseKind", "PROFESSIONAL", "专业"},
  {"shegong.v1.CourseKind", "OFF_JOB", "脱产"},

  {"shegong.v1.TrainingRule", "SECRETARY_ANNUAL", "书记年训"},
  {"shegong.v1.TrainingRule", "PRE_SERVICE_RULE", "新进岗前"},
  {"shegong.v1.TrainingRule", "PROMOTION_RULE", "升岗必训"},

  {"shegong.v1.TransferKind", "EXCHANGE", "居村交流"},
  {"shegong.v1.TransferKind", "ROTATION", "轮岗"},
  {"shegong.v1.TransferKind", "CROSS_TOWN", "跨街镇交流"},
  {"shegong.v1.TransferKind", "CONVERSION", "转任"},
  {"shegong.v1.TransferKind", "FIRST_YEAR_PLACEMENT", "首年下沉"},
  {"shegong.v1.TransferKind", "ROLE_CHANGE", "职务任命"},
  {"shegong.v1.TransferKind", "COMMITTEE_JOIN", "村两委转入"},

  {"shegong.v1.TransferState", "PROPOSED", "待审批"},
  {"shegong.v1.TransferState", "APPROVED", "已批准"},
  {"shegong.v1.TransferState", "EFFECTIVE", "已生效"},
  {"shegong.v1.TransferState", "REJECTED", "已驳回"},
  {"shegong.v1.TransferState", "TRANSFER_CANCELLED", "已撤回"},
  {"shegong.v1.TransferState", "FAILED", "未能生效"},
  {"shegong.v1.TransferState", "ENDED", "已结束"},

  {"shegong.v1.Party", "ORIGIN_TOWN", "原街镇"},
  {"shegong.v1.Party", "DESTINATION_TOWN", "新街镇"},
  {"shegong.v1.Party", "DISTRICT_PARTY", "区"},
};

/* Other words staff type for the same value; accepted, never printed. */
static const label_entry synonyms[] = {
  {"shegong.v1.UnitKind", "DISTRICT", "县级市"},
  {"shegong.v1.UnitKind", "DISTRICT", "县"},
  {"shegong.v1.UnitKind", "TOWN", "街道"},
  {"shegong.v1.UnitKind", "TOWN", "镇"},
  {"shegong.v1.UnitKind", "TOWN", "乡"},
  {"shegong.v1.UnitKind", "COMMUNITY", "社区"},
  {"shegong.v1.UnitKind", "COMMUNITY", "居民委员会"},
  {"shegong.v1.UnitKind", "COMMUNITY", "居民区"},
  {"shegong.v1.UnitKind", "VILLAGE", "村委会"},
  {"shegong.v1.UnitKind", "VILLAGE", "村民委员会"},

  {"shegong.v1.Gender", "MALE", "男性"},
  {"shegong.v1.Gender", "FEMALE", "女性"},

  {"shegong.v1.Education", "HIGH_SCHOOL_OR_BELOW", "高中"},
  {"shegong.v1.Education", "COLLEGE", "专科"},
  {"shegong.v1.Education", "BACHELOR", "大学本科"},
  {"shegong.v1.Education", "POSTGRADUATE", "硕士"},
  {"shegong.v1.Education", "POSTGRADUATE", "博士"},

  {"shegong.v1.Role", "GENERALIST", "全业务社工"},

  {"shegong.v1.Source", "SOCIAL_WORKER", "持证社会工作者"},

  {"shegong.v1.Certification", "ASSISTANT_SOCIAL_WORKER", "助理社工师"},
  {"shegong.v1.Certification", "SOCIAL_WORKER_CERT", "社工师"},
  {"shegong.v1.Certification", "SENIOR_SOCIAL_WORKER", "高级社工师"},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Longest value or prefix name we build on the stack. */
#define NAME_MAX_LEN 128

const char *sg_label_for(const ProtobufCEnumDescriptor *e, int v) {
  if (!e) return NULL;
  const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(e, v);
  if (!ev) return NULL;
  for (size_t i = 0; i < COUNT(labels); i++)
    if (strcmp(labels[i].enum_name, e->name) == 0 && strcmp(labels[i].value, ev->name) == 0)
      return labels[i].label;
  return NULL;
}

/* ASCII-only so that the locale cannot change what a CLI argument means. */
static char fold(char c) {
  if (c >= 'a' && c <= 'z') return (char)(c - 'a' + 'A');
  if (c == '-') return '_'; /* "high-school-or-below" reads naturally on a command line */
  return c;
}

/* Does input a (folded) continue with all of b? Returns the rest of a, or NULL. */
static const char *match_prefix(const char *a, const char *b) {
  for (; *b; a++, b++)
    if (fold(*a) != fold(*b)) return NULL;
  return a;
}

static int name_equal(const char *a, const char *b) {
  const char *rest = match_prefix(a, b);
  return rest && *rest == '\0';
}

/*
 * The prefix every value name shares, cut back to an underscore
 * ("UNIT_KIND_" if all values were UNIT_KIND_*); empty if none.
 */
static void common_prefix(const ProtobufCEnumDescriptor *e, char *buf, size_t len) {
  buf[0] = '\0';
  if (e->n_values < 2) return;
  const char *first = e->values[0].name;
  size_t n = strlen(first);
  for (unsigned i = 1; i < e->n_values; i++) {
    size_t k = 0;
    while (k < n && first[k] == e->values[i].name[k]) k++;
    n = k;
  }
  while (n > 0 && first[n - 1] != '_') n--;
  if (n >= len) return;
  memcpy(buf, first, n);
  buf[n] = '\0';
}

/*
 * "UNIT_KIND_" for enum UnitKind: proto style prefixes zero values (and
 * sometimes all values) with the enum's name in upper snake case.
 */
static void enum_prefix(const ProtobufCEnumDescriptor *e, char *buf, size_t len) {
  const char *s = e->short_name ? e->short_name : "";
  size_t o = 0;
  buf[0] = '\0';
  for (size_t i = 0; s[i]; i++) {
    int upper = s[i] >= 'A' && s[i] <= 'Z';
    int after_lower = i > 0 && ((s[i - 1] >= 'a' && s[i - 1] <= 'z') ||
                                (s[i - 1] >= '0' && s[i - 1] <= '9'));
    if (o + 3 >= len) {
      buf[0] = '\0';
      return;
    }
    if (upper && after_lower) buf[o++] = '_';
    buf[o++] = fold(s[i]);
  }
  if (o == 0) return;
  buf[o++] = '_';
  buf[o] = '\0';
}

/* value name == prefix + input, or input == prefix + value name. */
static int name_matches_with_prefix(const char *value, const char *input, const char *prefix) {
  if (!prefix[0]) return 0;
  const char *rest = match_prefix(value, prefix);
  if (rest && name_equal(rest, input)) return 1;
  rest = match_prefix(input, prefix);
  return rest && name_equal(rest, value);
}

static int find_by_label(const ProtobufCEnumDescriptor *e, const label_entry *t, size_t n,
                         const char *s, int *out) {
  for (size_t i = 0; i < n; i++) {
    if (strcmp(t[i].enum_name, e->name) != 0 || strcmp(t[i].label, s) != 0) continue;
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value_by_name(e, t[i].value);
    if (ev) {
      *out = ev->value;
      return 1;
    }
  }
  return 0;
}

static int parse_number(const ProtobufCEnumDescriptor *e, const char *s, int *out) {
  if (!((s[0] >= '0' && s[0] <= '9') || (s[0] == '-' && s[1] >= '0' && s[1] <= '9'))) return 0;
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || *end || v < INT_MIN || v > INT_MAX) return 0;
  if (!protobuf_c_enum_descriptor_get_value(e, (int)v)) return 0;
  *out = (int)v;
  return 1;
}

int sg_label_parse(const ProtobufCEnumDescriptor *e, const char *s, int *out) {
  if (!e || !s || !out || !s[0]) return SG_EINVAL;
  if (parse_number(e, s, out)) return 0;

  /* Exact names first, so a prefix rule can never shadow a real value. */
  for (unsigned i = 0; i < e->n_value_names; i++) {
    if (name_equal(s, e->values_by_name[i].name)) {
      *out = e->values[e->values_by_name[i].index].value;
      return 0;
    }
  }

  char common[NAME_MAX_LEN], own[NAME_MAX_LEN];
  common_prefix(e, common, sizeof common);
  enum_prefix(e, own, sizeof own);
  for (unsigned i = 0; i < e->n_value_names; i++) {
    const char *name = e->values_by_name[i].name;
    if (name_matches_with_prefix(name, s, common) || name_matches_with_prefix(name, s, own)) {
      *out = e->values[e->values_by_name[i].index].value;
      return 0;
    }
  }

  if (find_by_label(e, labels, COUNT(labels), s, out)) return 0;
  if (find_by_label(e, synonyms, COUNT(synonyms), s, out)) return 0;
  return SG_EINVAL;
}
