/*
 * shegong-demo: loads a demo district, 崇川区 (320602), into a running
 * shegongd through libshegong: towns, communities and villages, their grids,
 * and a few thousand community workers whose data would pass a real
 * register's checks (GB 11643 ID numbers, real dates, mobile numbers).
 *
 * The whole district is planned in memory from the seed before anything is
 * sent, so the same seed gives the same district whatever order the server
 * answers pipelined calls in. Each town has its own random stream, so
 * asking for more towns leaves the first ones as they were.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policyfile.h"
#include "shegong.h"
#include "shegong/v1/assessments.pb-c.h"
#include "shegong/v1/policy.pb-c.h"
#include "shegong/v1/training.pb-c.h"
#include "shegong/v1/transfers.pb-c.h"
#include "shegong/v1/units.pb-c.h"
#include "shegong/v1/workers.pb-c.h"
#include "timeutil.h"
#include "validate.h"

#define PROG "shegong-demo"

#define DISTRICT_CODE "320602"
#define DISTRICT_NAME "崇川区"

#define WINDOW 64 /* calls in flight at once */
#define CALL_TIMEOUT_MS 30000
#define CONNECT_TIMEOUT_MS 10000

/* Town codes have 3 digits after the district's. */
#define MAX_TOWNS 999
#define MAX_WORKERS 1000000u
#define MAX_TOKEN_BYTES (64u * 1024u)

/* Dates of the demo's world: hiring began with the 2008 reform of
 * community work, and nothing happens after the end of 2025, so that no
 * date is in the future for a server that checks. */
#define HIRE_FIRST_Y 2008
#define WORLD_END_Y 2025

/* snprintf for the plan's fixed-size fields. They are sized for the
 * longest value this file makes, so a cut would be a bug here: stop rather
 * than send half a character of UTF-8. */
static void fmt(char *out, size_t len, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
static void fmt(char *out, size_t len, const char *format, ...) {
  va_list ap;
  va_start(ap, format);
  int n = vsnprintf(out, len, format, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= len) {
    fprintf(stderr, "%s: internal error: \"%s\" does not fit in %zu bytes\n", PROG, out, len);
    abort();
  }
}

/* ------------------------------------------------------------------------ */
/* Random numbers: splitmix64 to seed, xoshiro256** to draw. Never rand(),
 * whose sequence differs between C libraries. */

typedef struct rng {
  uint64_t s[4];
} rng;

enum { STREAM_NAMES = 1, STREAM_TOWN = 2, STREAM_WORKERS = 3, STREAM_HISTORY = 4 };

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static void rng_init(rng *r, uint64_t seed, uint64_t stream, uint64_t index) {
  uint64_t x = seed;
  x = splitmix64(&x) + stream;
  x = splitmix64(&x) + index;
  for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

static uint64_t rotl64(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(rng *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl64(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl64(s[3], 45);
  return result;
}

/* Uniform in [0, n), n > 0; rejection keeps small ranges free of modulo
 * bias. */
static uint64_t rng_below(rng *r, uint64_t n) {
  uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t v;
  do {
    v = rng_next(r);
  } while (v >= limit);
  return v % n;
}

/* Uniform in [lo, hi]. */
static int rng_range(rng *r, int lo, int hi) {
  return lo + (int)rng_below(r, (uint64_t)(hi - lo) + 1);
}

/* True with probability per_mille / 1000. */
static bool rng_chance(rng *r, unsigned per_mille) { return rng_below(r, 1000) < per_mille; }

/* Peaks in the middle of [lo, hi]: ages and years cluster, they are not flat. */
static int rng_triangular(rng *r, int lo, int hi) {
  return lo + (rng_range(r, 0, hi - lo) + rng_range(r, 0, hi - lo)) / 2;
}

/* ------------------------------------------------------------------------ */
/* Civil dates as day numbers (days since 1970-01-01), so that ranges of
 * dates can be drawn uniformly and every date drawn is real. */

static long days_from_civil(int y, int m, int d) {
  y -= m <= 2;
  long era = (y >= 0 ? y : y - 399) / 400;
  long yoe = y - era * 400;
  long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static void civil_from_days(long z, int *y, int *m, int *d) {
  z += 719468;
  long era = (z >= 0 ? z : z - 146096) / 146097;
  long doe = z - era * 146097;
  long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  long mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = (int)(yoe + era * 400 + (*m <= 2));
}

static bool is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

/* The same month and day `years` later; 29 February becomes the 28th. */
static long add_years(long day, int years) {
  int y, m, d;
  civil_from_days(day, &y, &m, &d);
  y += years;
  if (m == 2 && d == 29 && !is_leap(y)) d = 28;
  return days_from_civil(y, m, d);
}

/* Whole years from `from` to `to` (an age on a day). */
static int years_between(long from, long to) {
  int y1, m1, d1, y2, m2, d2;
  civil_from_days(from, &y1, &m1, &d1);
  civil_from_days(to, &y2, &m2, &d2);
  int years = y2 - y1;
  if (m2 < m1 || (m2 == m1 && d2 < d1)) years--;
  return years;
}

static void format_date(long day, char out[11]) {
  int y, m, d;
  civil_from_days(day, &y, &m, &d);
  fmt(out, 11, "%04d-%02d-%02d", y % 10000, m, d);
}

static long rng_day(rng *r, long first, long last) {
  return first + (long)rng_below(r, (uint64_t)(last - first) + 1);
}

/* ------------------------------------------------------------------------ */
/* Names. Every character in these strings is a CJK ideograph of the basic
 * block, three bytes of UTF-8, so the n-th is at byte 3n. */

static const char surnames[] =
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁"
    "潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦"
    "邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤季施缪葛";
static const char given_female[] =
    "丽芳娟敏静燕艳玲婷雪慧霞琳洁佳倩颖露瑶萍红梅兰琴云莉娜晶悦欣怡雯蕾凤秀英丹璐媛"
    "蓉薇洋";
static const char given_male[] =
    "伟强磊军勇杰涛斌超明刚平辉鹏飞鑫波宇浩凯健俊帆峰亮东林龙建国文锋毅诚彬杨";
/* First characters of two-character given names, worn by either sex. */
static const char given_lead[] = "晓春海玉子思一嘉雨天新金志永德佳文小亚丽建国";

static size_t cjk_count(const char *s) { return strlen(s) / 3; }

static void append_cjk(char *out, size_t len, const char *s, size_t i) {
  size_t used = strlen(out);
  if (used + 3 < len) {
    memcpy(out + used, s + 3 * i, 3);
    out[used + 3] = '\0';
  }
}

static void append_cjk_random(char *out, size_t len, const char *s, rng *r) {
  append_cjk(out, len, s, (size_t)rng_below(r, cjk_count(s)));
}

static const char *const town_bases[] = {
    "和平桥", "任港", "新城桥", "虹桥", "学田", "钟秀",
    "文峰", "观音山", "狼山镇", "城东", "幸福", "陈桥",
};
#define N_TOWN_BASES (sizeof town_bases / sizeof town_bases[0])

static const char *const community_bases[] = {
    "桃坞", "北濠", "濠西", "文峰", "城隍庙", "五一", "锦绣", "南川", "天生港", "钟秀",
    "紫琅", "星湖", "永兴", "八里庙", "江家桥", "易家桥", "濠南", "濠北", "西被闸", "钟楼",
    "青年", "友谊", "公园", "新桥", "三里墩", "红星", "永红", "长桥", "园林", "启秀",
    "紫薇", "华山", "朝晖", "东方", "金桥", "郭里园", "桃园", "环西", "海港", "跃龙",
    "段家坝", "五山", "虹西", "虹北", "北大街", "南大街", "西大街", "东大街", "三元桥", "秦灶",
    "城山", "体育", "星光", "盛和", "景瑞", "万濠", "民主", "人民", "青龙", "通欣",
    "鹤涛", "碧华", "长泰", "闸西", "永通", "永欣", "福园", "翠园", "八一", "濠阳",
    "文化", "怡园", "春晖", "和兴", "光华", "任港", "虹桥", "学田", "城东", "新城",
    "幸福", "陈桥", "观音山", "狼山", "学院", "濠东", "工农", "团结", "中南", "颐和",
    "世纪", "滨江", "江滨", "龙王桥", "河东", "河西", "建设", "胜利", "花园", "越江",
};
#define N_COMMUNITY_BASES (sizeof community_bases / sizeof community_bases[0])

static const char *const village_bases[] = {
    "长洪", "芦泾", "恒兴", "东港", "双桥", "沿江", "华新", "严港", "三友", "新胜",
    "兴隆", "永安", "太平", "东风", "新民", "和平", "丰收", "合兴", "民生", "正场",
    "北港", "南港", "十里", "姚港", "竹林", "桥北", "营船", "大生", "通富", "五星",
    "红旗", "光明", "联合", "建新", "向阳", "前进", "新华", "新联", "东升", "南丰",
    "北兴", "天补", "观音", "竹行", "五总", "新河", "横港", "油榨", "长江", "新开",
    "福星", "灯杆", "路北", "河口", "陈庄", "王家", "孙桥", "徐庄", "高家", "裤子港",
};
#define N_VILLAGE_BASES (sizeof village_bases / sizeof village_bases[0])

/* Chinese numeral for 1..9999 ("十二", "一百零五"); decimal beyond that. */
static void cn_numeral(unsigned n, char *out, size_t len) {
  static const char *const digits[] = {"零", "一", "二", "三", "四",
                                       "五", "六", "七", "八", "九"};
  static const char *const units[] = {"", "十", "百", "千"};
  if (n == 0 || n > 9999) {
    fmt(out, len, "%u", n);
    return;
  }
  out[0] = '\0';
  bool started = false, zero_pending = false;
  unsigned pow10 = 1000;
  for (int pos = 3; pos >= 0; pos--, pow10 /= 10) {
    unsigned digit = n / pow10 % 10;
    if (digit == 0) {
      if (started) zero_pending = true;
      continue;
    }
    if (zero_pending) strncat(out, digits[0], len - strlen(out) - 1);
    zero_pending = false;
    /* "十二", not "一十二", when the tens lead */
    if (!(pos == 1 && digit == 1 && !started)) strncat(out, digits[digit], len - strlen(out) - 1);
    strncat(out, units[pos], len - strlen(out) - 1);
    started = true;
  }
}

/* The i-th name drawn from a shuffled pool; once the pool is used up the
 * names come round again with a numeral ("桃坞二社区"), so none repeats. */
static void pool_name(const char *const *pool, const size_t *order, size_t pool_size, size_t i,
                      const char *suffix, char *out, size_t len) {
  size_t round = i / pool_size;
  char numeral[32] = "";
  if (round > 0) cn_numeral((unsigned)(round + 1), numeral, sizeof numeral);
  fmt(out, len, "%s%s%s", pool[order[i % pool_size]], numeral, suffix);
}

static void shuffle(rng *r, size_t *order, size_t n) {
  for (size_t i = 0; i < n; i++) order[i] = i;
  for (size_t i = n; i > 1; i--) {
    size_t j = (size_t)rng_below(r, i);
    size_t t = order[i - 1];
    order[i - 1] = order[j];
    order[j] = t;
  }
}

/* ------------------------------------------------------------------------ */
/* The plan: the district as it will be created. */

typedef struct unit_plan {
  Shegong__V1__UnitKind kind;
  char code[16];
  char name[96];
  size_t parent; /* index into the level above (towns for locals, locals for grids) */
  uint32_t households;
  uint32_t residents;
  unsigned aged_tenths; /* aged_60_percent × 10, so that sums stay exact */
  unsigned area_tenths; /* towns: land area in 0.1 km² (town-centre quota tiers) */

  /* towns: their communities and villages, and town-centre staff */
  size_t first_local, n_locals;
  unsigned n_centre;

  /* communities and villages: grids and the usual staffing */
  size_t first_grid, n_grids;
  unsigned n_generalists;
  bool has_neighbourhood;
} unit_plan;

typedef struct worker_plan {
  char name[16];
  char id_number[19];
  char birth_date[11];
  char phone[12];
  char hire_date[11];
  char post[2];
  Shegong__V1__Gender gender;
  Shegong__V1__Education education;
  bool party_member;
  Shegong__V1__Category category;
  Shegong__V1__Role role;
  Shegong__V1__Source source;
  Shegong__V1__Certification certification;
  uint32_t level;
  Shegong__V1__WorkerStatus status;
  const unit_plan *unit;
  const unit_plan *grid; /* NULL when not tied to a grid */

  bool leaves;
  char leave_date[11];
  const char *leave_reason;

  uint64_t id; /* from the server's answer, for Leave */

  /* history: created one level down, then stepped up on step_date (the
   * last four-year anniversary), unless the step is still due */
  uint32_t created_level;
  char step_date[11];
  long hire_day, leave_day; /* leave_day 0: still working */
  int merit;                /* a lasting lean of the worker's scores, -6..+6 */
} worker_plan;

typedef struct demo {
  uint64_t seed;
  size_t workers_wanted;
  int history_years;     /* years of assessments and training, ending WORLD_END_Y */
  bool quarterly;        /* also the four 平时 results of each year */
  unsigned exchanges;    /* 居村交流 transfers per town and year */

  unit_plan district;
  unit_plan *towns;
  size_t n_towns;
  unit_plan *locals; /* communities and villages */
  size_t n_locals, cap_locals;
  unit_plan *grids;
  size_t n_grids, cap_grids;
  worker_plan *workers;
  size_t n_workers;

  /* what the server accepted */
  size_t made_towns, made_locals, made_grids, made_workers, made_leaves;
} demo;

static unit_plan *push_unit(unit_plan **arr, size_t *n, size_t *cap) {
  if (*n == *cap) {
    size_t ncap = *cap ? *cap * 2 : 256;
    unit_plan *p = realloc(*arr, ncap * sizeof *p);
    if (!p) return NULL;
    *arr = p;
    *cap = ncap;
  }
  unit_plan *u = &(*arr)[(*n)++];
  memset(u, 0, sizeof *u);
  return u;
}

/* Splits total into n shares by weight that add up to total exactly. */
static void split_total(uint32_t total, size_t n, const unsigned *weights, uint32_t *out) {
  uint64_t wsum = 0;
  for (size_t i = 0; i < n; i++) wsum += weights[i];
  uint32_t given = 0;
  for (size_t i = 0; i + 1 < n; i++) {
    out[i] = (uint32_t)((uint64_t)total * weights[i] / wsum);
    given += out[i];
  }
  out[n - 1] = total - given;
}

static unsigned weighted_aged(uint64_t aged_x_res, uint64_t residents) {
  return residents ? (unsigned)((aged_x_res + residents / 2) / residents) : 0;
}

static int plan_grids(demo *d, rng *r, size_t local_index) {
  /* only the grids array grows here, so this pointer stays valid */
  const unit_plan *local = &d->locals[local_index];
  size_t n = local->n_grids;
  unsigned w_households[8], w_residents[8];
  uint32_t households[8], residents[8];
  for (size_t g = 0; g < n; g++) {
    w_households[g] = (unsigned)rng_range(r, 80, 120);
    /* household sizes differ a little from grid to grid */
    w_residents[g] = (unsigned)((int)w_households[g] + rng_range(r, -5, 5));
  }
  split_total(local->households, n, w_households, households);
  split_total(local->residents, n, w_residents, residents);

  d->locals[local_index].first_grid = d->n_grids;
  for (size_t g = 0; g < n; g++) {
    unit_plan *grid = push_unit(&d->grids, &d->n_grids, &d->cap_grids);
    if (!grid) return -1;
    char numeral[32];
    cn_numeral((unsigned)g + 1, numeral, sizeof numeral);
    grid->kind = SHEGONG__V1__UNIT_KIND__GRID;
    fmt(grid->code, sizeof grid->code, "%s%03u", local->code, (unsigned)g + 1);
    fmt(grid->name, sizeof grid->name, "%s第%s网格", local->name, numeral);
    grid->parent = local_index;
    grid->households = households[g];
    grid->residents = residents[g];
    int aged = (int)local->aged_tenths + rng_range(r, -30, 30);
    grid->aged_tenths = (unsigned)(aged < 120 ? 120 : aged > 380 ? 380 : aged);
  }
  return 0;
}

static int plan_units(demo *d, size_t n_towns) {
  rng names;
  rng_init(&names, d->seed, STREAM_NAMES, 0);
  size_t community_order[N_COMMUNITY_BASES], village_order[N_VILLAGE_BASES];
  shuffle(&names, community_order, N_COMMUNITY_BASES);
  shuffle(&names, village_order, N_VILLAGE_BASES);
  size_t communities_named = 0, villages_named = 0;

  unit_plan *district = &d->district;
  district->kind = SHEGONG__V1__UNIT_KIND__DISTRICT;
  fmt(district->code, sizeof district->code, "%s", DISTRICT_CODE);
  fmt(district->name, sizeof district->name, "%s", DISTRICT_NAME);

  d->towns = calloc(n_towns, sizeof *d->towns);
  if (!d->towns) return -1;
  d->n_towns = n_towns;
  uint64_t district_households = 0, district_residents = 0, district_aged = 0;

  for (size_t t = 0; t < n_towns; t++) {
    rng r;
    rng_init(&r, d->seed, STREAM_TOWN, t);
    unit_plan *town = &d->towns[t];
    town->kind = SHEGONG__V1__UNIT_KIND__TOWN;
    fmt(town->code, sizeof town->code, "%s%03u", DISTRICT_CODE, (unsigned)t + 1);
    char numeral[32] = "";
    if (t >= N_TOWN_BASES) cn_numeral((unsigned)(t / N_TOWN_BASES) + 1, numeral, sizeof numeral);
    fmt(town->name, sizeof town->name, "%s%s街道", town_bases[t % N_TOWN_BASES], numeral);

    /* About 25 communities and villages a town, three communities to a
     * village; every town keeps at least one village. */
    size_t n_local = (size_t)rng_range(&r, 20, 30);
    size_t n_village = (n_local * (size_t)rng_range(&r, 15, 35) + 50) / 100;
    if (n_village < 1) n_village = 1;
    size_t n_community = n_local - n_village;
    town->n_centre = (unsigned)rng_range(&r, 8, 16);
    town->first_local = d->n_locals;
    town->n_locals = n_local;

    uint64_t town_households = 0, town_residents = 0, town_aged = 0;
    for (size_t j = 0; j < n_local; j++) {
      bool village = j >= n_community;
      unit_plan *local = push_unit(&d->locals, &d->n_locals, &d->cap_locals);
      if (!local) return -1;
      size_t local_index = d->n_locals - 1;
      /* GB/T 10114: 居委会 001-199, 村委会 200-399 */
      unsigned number = village ? 201 + (unsigned)(j - n_community) : 1 + (unsigned)j;
      local->kind = village ? SHEGONG__V1__UNIT_KIND__VILLAGE : SHEGONG__V1__UNIT_KIND__COMMUNITY;
      fmt(local->code, sizeof local->code, "%s%03u", town->code, number);
      if (village)
        pool_name(village_bases, village_order, N_VILLAGE_BASES, villages_named++, "村",
                  local->name, sizeof local->name);
      else
        pool_name(community_bases, community_order, N_COMMUNITY_BASES, communities_named++,
                  "社区", local->name, sizeof local->name);
      local->parent = t;
      local->households = (uint32_t)rng_range(&r, 500, 3000);
      local->residents = (uint32_t)(((uint64_t)local->households * (uint64_t)rng_range(&r, 220, 280) + 50) / 100);
      /* villages have kept their old people and lost their young */
      local->aged_tenths = (unsigned)(village ? rng_range(&r, 200, 380) : rng_range(&r, 120, 320));
      int n_grids = 2 + (int)local->households / 700 + rng_range(&r, -1, 1);
      local->n_grids = (size_t)(n_grids < 2 ? 2 : n_grids > 6 ? 6 : n_grids);
      local->n_generalists = (unsigned)rng_range(&r, 2, 4);
      local->has_neighbourhood = rng_chance(&r, 500);

      town_households += local->households;
      town_residents += local->residents;
      town_aged += (uint64_t)local->residents * local->aged_tenths;
      if (plan_grids(d, &r, local_index) != 0) return -1;
    }
    town->households = (uint32_t)town_households;
    town->residents = (uint32_t)town_residents;
    {
      /* from a stream of its own: the district's other figures stay as they were */
      rng ar;
      rng_init(&ar, d->seed, STREAM_HISTORY, 5000000u + (uint64_t)t);
      town->area_tenths = (unsigned)rng_range(&ar, 60, 650); /* 6 to 65 km² */
    }
    town->aged_tenths = weighted_aged(town_aged, town_residents);
    district_households += town->households;
    district_residents += town->residents;
    district_aged += (uint64_t)town->residents * town->aged_tenths;
  }
  district->households = (uint32_t)district_households;
  district->residents = (uint32_t)district_residents;
  district->aged_tenths = weighted_aged(district_aged, district_residents);
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Staffing: which posts each unit has, before there are people in them. */

typedef struct slot {
  Shegong__V1__Role role;
  size_t grid; /* index into grids, or SIZE_MAX */
} slot;

#define MAX_NATURAL_SLOTS 16

/*
 * A community's or village's "7+N": secretary and director first, then grid
 * workers and generalists in turn, a neighbourhood worker last. The order
 * matters: when fewer workers are asked for, units lose their tail.
 */
static size_t local_slots(const unit_plan *u, slot *out) {
  size_t n = 0;
  out[n++] = (slot){SHEGONG__V1__ROLE__SECRETARY, SIZE_MAX};
  out[n++] = (slot){SHEGONG__V1__ROLE__DIRECTOR, SIZE_MAX};
  size_t g = 0, gen = 0;
  while (g < u->n_grids || gen < u->n_generalists) {
    if (g < u->n_grids) {
      out[n++] = (slot){SHEGONG__V1__ROLE__GRID_WORKER, u->first_grid + g};
      g++;
    }
    if (gen < u->n_generalists) {
      out[n++] = (slot){SHEGONG__V1__ROLE__GENERALIST, SIZE_MAX};
      gen++;
    }
  }
  if (u->has_neighbourhood) out[n++] = (slot){SHEGONG__V1__ROLE__NEIGHBOURHOOD, SIZE_MAX};
  return n;
}

/* Posts beyond the usual staffing, when more workers are asked for. */
static slot local_extra_slot(const unit_plan *u, size_t extra) {
  switch (extra % 3) {
  case 0: return (slot){SHEGONG__V1__ROLE__GENERALIST, SIZE_MAX};
  case 1: return (slot){SHEGONG__V1__ROLE__FULL_TIME_GRID, u->first_grid + (extra / 3) % u->n_grids};
  default: return (slot){SHEGONG__V1__ROLE__NEIGHBOURHOOD, SIZE_MAX};
  }
}

/* A set of the first 17 digits of ID numbers, as integers: the server
 * rejects a second worker with the same number. */
typedef struct id_set {
  uint64_t *keys; /* 0 = empty; no key is 0, area codes are not */
  size_t mask;
} id_set;

static int id_set_init(id_set *s, size_t expected) {
  size_t cap = 64;
  while (cap < expected * 2 + 16) cap *= 2;
  s->keys = calloc(cap, sizeof *s->keys);
  s->mask = cap - 1;
  return s->keys ? 0 : -1;
}

/* Adds key; false if it was there already. */
static bool id_set_add(id_set *s, uint64_t key) {
  uint64_t h = key;
  size_t i = (size_t)(splitmix64(&h) & s->mask);
  while (s->keys[i] != 0) {
    if (s->keys[i] == key) return false;
    i = (i + 1) & s->mask;
  }
  s->keys[i] = key;
  return true;
}

/* Birthplaces: mostly 崇川 itself, the rest from around Nantong. */
static unsigned pick_area(rng *r) {
  static const struct {
    unsigned code, per_mille;
  } areas[] = {
      {320602, 600}, /* 崇川区 */
      {320611, 100}, /* 港闸区, merged into 崇川 in 2020; old IDs keep it */
      {320612, 60},  /* 通州区 */
      {320682, 80},  /* 如皋市 */
      {320623, 60},  /* 如东县 */
      {320684, 50},  /* 海门 */
      {320681, 50},  /* 启东市 */
  };
  unsigned x = (unsigned)rng_below(r, 1000);
  for (size_t i = 0; i < sizeof areas / sizeof areas[0]; i++) {
    if (x < areas[i].per_mille) return areas[i].code;
    x -= areas[i].per_mille;
  }
  return 320602;
}

typedef struct worker_ctx {
  rng r;
  id_set ids;
  uint64_t id_counter;
} worker_ctx;

/*
 * Fills the ID number for a birth day, area and sex. The sequence comes
 * from a counter (odd for men, even for women); a counter value taken for
 * the same birthplace and day moves on to the next.
 */
static void make_id_number(worker_ctx *wc, unsigned area, long *birth, bool male, char out[19]) {
  for (;;) {
    int y, m, d;
    civil_from_days(*birth, &y, &m, &d);
    uint64_t born = (uint64_t)y * 10000 + (uint64_t)m * 100 + (uint64_t)d;
    for (int tries = 0; tries < 500; tries++) {
      unsigned seq = (unsigned)(wc->id_counter++ % 500) * 2 + (male ? 1 : 0);
      uint64_t key = ((uint64_t)area * 100000000u + born) * 1000u + seq;
      if (id_set_add(&wc->ids, key)) {
        char first17[18];
        fmt(first17, sizeof first17, "%06u%08u%03u", area, (unsigned)born, seq);
        fmt(out, 19, "%s%c", first17, sg_idno_check_char(first17));
        return;
      }
    }
    /* all 500 numbers of that day and sex are taken: be born a day later */
    (*birth)++;
  }
}

static void make_phone(rng *r, char out[12]) {
  static const char *const prefixes[] = {
      "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "150", "151",
      "152", "153", "155", "156", "157", "158", "159", "180", "181", "182", "183", "184",
      "185", "186", "187", "188", "189", "191", "193", "195", "198", "199"};
  const char *p = prefixes[rng_below(r, sizeof prefixes / sizeof prefixes[0])];
  fmt(out, 12, "%s%08u", p, (unsigned)rng_below(r, 100000000u));
}

static void make_name(rng *r, bool male, char *out, size_t len) {
  const char *given = male ? given_male : given_female;
  /* the smaller of two draws favours the common surnames at the front */
  size_t n = cjk_count(surnames);
  size_t a = (size_t)rng_below(r, n), b = (size_t)rng_below(r, n);
  out[0] = '\0';
  append_cjk(out, len, surnames, a < b ? a : b);
  if (rng_chance(r, 700)) {
    if (rng_chance(r, 400))
      append_cjk_random(out, len, given_lead, r);
    else
      append_cjk_random(out, len, given, r);
  }
  append_cjk_random(out, len, given, r);
}

static Shegong__V1__Source pick_source(rng *r, const unit_plan *unit, Shegong__V1__Role role) {
  bool village = unit->kind == SHEGONG__V1__UNIT_KIND__VILLAGE;
  if (village && rng_chance(r, 300)) return SHEGONG__V1__SOURCE__VILLAGE_COMMITTEE;
  if ((role == SHEGONG__V1__ROLE__GRID_WORKER || role == SHEGONG__V1__ROLE__FULL_TIME_GRID) &&
      rng_chance(r, 250))
    return SHEGONG__V1__SOURCE__GRID_CONVERSION;
  if ((role == SHEGONG__V1__ROLE__SECRETARY || role == SHEGONG__V1__ROLE__DIRECTOR) &&
      rng_chance(r, 250))
    return SHEGONG__V1__SOURCE__COMMITTEE_CADRE;
  unsigned x = (unsigned)rng_below(r, 1000);
  if (x < 120) return SHEGONG__V1__SOURCE__GRADUATE;
  if (x < 180) return SHEGONG__V1__SOURCE__VETERAN;
  if (x < 240) return SHEGONG__V1__SOURCE__ENTERPRISE;
  if (x < 300) return SHEGONG__V1__SOURCE__SOCIAL_WORKER;
  if (x < 360) return SHEGONG__V1__SOURCE__COMMITTEE_CADRE;
  if (x < 390) return SHEGONG__V1__SOURCE__SANZHI_YIFU;
  if (x < 400) return SHEGONG__V1__SOURCE__VOLUNTEER;
  return SHEGONG__V1__SOURCE__OPEN_EXAM;
}

static Shegong__V1__Certification pick_certification(rng *r, Shegong__V1__Source source) {
  unsigned x = (unsigned)rng_below(r, 1000);
  if (source == SHEGONG__V1__SOURCE__SOCIAL_WORKER) {
    /* hired for holding a certificate */
    if (x < 700) return SHEGONG__V1__CERTIFICATION__ASSISTANT_SOCIAL_WORKER;
    if (x < 970) return SHEGONG__V1__CERTIFICATION__SOCIAL_WORKER_CERT;
    return SHEGONG__V1__CERTIFICATION__SENIOR_SOCIAL_WORKER;
  }
  /* with the certificate-holders on top, about 40% in all (崇川: 39.7%) */
  if (x < 265) return SHEGONG__V1__CERTIFICATION__ASSISTANT_SOCIAL_WORKER;
  if (x < 365) return SHEGONG__V1__CERTIFICATION__SOCIAL_WORKER_CERT;
  if (x < 372) return SHEGONG__V1__CERTIFICATION__SENIOR_SOCIAL_WORKER;
  return SHEGONG__V1__CERTIFICATION__CERTIFICATION_NONE;
}

static Shegong__V1__Education pick_education(rng *r, int birth_year) {
  unsigned x = (unsigned)rng_below(r, 1000);
  if (birth_year < 1976 && x < 200) return SHEGONG__V1__EDUCATION__HIGH_SCHOOL_OR_BELOW;
  x = (unsigned)rng_below(r, 1000);
  unsigned postgraduate = birth_year >= 1985 ? 90 : 30;
  if (x < postgraduate) return SHEGONG__V1__EDUCATION__POSTGRADUATE;
  if (x < postgraduate + 520) return SHEGONG__V1__EDUCATION__BACHELOR;
  return SHEGONG__V1__EDUCATION__COLLEGE;
}

static const char *pick_leave_reason(rng *r, int age) {
  unsigned x = (unsigned)rng_below(r, 100);
  if (age < 35) {
    if (x < 30) return "考取公务员";
    if (x < 50) return "考取事业编制";
    if (x < 75) return "个人原因";
    if (x < 90) return "家庭原因";
    return "工作调动";
  }
  if (x < 35) return "个人原因";
  if (x < 65) return "家庭原因";
  if (x < 80) return "身体原因";
  return "工作调动";
}

static bool role_is_lead(Shegong__V1__Role role) {
  return role == SHEGONG__V1__ROLE__SECRETARY || role == SHEGONG__V1__ROLE__DIRECTOR;
}

static void plan_worker(worker_ctx *wc, const unit_plan *unit, slot s, const demo *d,
                        worker_plan *w) {
  rng *r = &wc->r;
  bool town_centre = unit->kind == SHEGONG__V1__UNIT_KIND__TOWN;
  memset(w, 0, sizeof *w);
  w->unit = unit;
  w->grid = s.grid == SIZE_MAX ? NULL : &d->grids[s.grid];
  w->role = s.role;
  w->category = town_centre ? SHEGONG__V1__CATEGORY__TOWN_CENTRE
                            : SHEGONG__V1__CATEGORY__COMMUNITY_BASED;
  w->source = pick_source(r, unit, s.role);

  /* about two in three community workers are women; fewer among
   * secretaries, few among veterans */
  unsigned female_per_mille = 700;
  if (w->source == SHEGONG__V1__SOURCE__VETERAN)
    female_per_mille = 100;
  else if (s.role == SHEGONG__V1__ROLE__SECRETARY)
    female_per_mille = 500;
  bool male = !rng_chance(r, female_per_mille);
  w->gender = male ? SHEGONG__V1__GENDER__MALE : SHEGONG__V1__GENDER__FEMALE;

  /* secretaries and directors are the older hands */
  int birth_year = role_is_lead(s.role) ? rng_triangular(r, 1966, 1990)
                   : town_centre        ? rng_triangular(r, 1975, 2001)
                                        : rng_triangular(r, 1968, 2001);
  long birth = rng_day(r, days_from_civil(birth_year, 1, 1), days_from_civil(birth_year, 12, 31));
  make_id_number(wc, pick_area(r), &birth, male, w->id_number);
  format_date(birth, w->birth_date);
  int by, bm, bd;
  civil_from_days(birth, &by, &bm, &bd);

  /* hired aged 22 to 58, inside the demo's years; never empty for births
   * 1966-2001 */
  long first_hire = days_from_civil(HIRE_FIRST_Y, 1, 1);
  long last_day = days_from_civil(WORLD_END_Y, 12, 31);
  long hire_lo = add_years(birth, 22), hire_hi = add_years(birth, 58);
  if (hire_lo < first_hire) hire_lo = first_hire;
  if (hire_hi > last_day) hire_hi = last_day;
  if (w->source == SHEGONG__V1__SOURCE__GRADUATE) {
    long grad_hi = add_years(birth, 25);
    if (grad_hi >= hire_lo && grad_hi <= hire_hi)
      hire_hi = grad_hi;
    else if (grad_hi < hire_lo)
      w->source = SHEGONG__V1__SOURCE__OPEN_EXAM; /* graduated before 2008 */
  }
  long hire = rng_day(r, hire_lo, hire_hi);
  format_date(hire, w->hire_date);

  w->education = pick_education(r, by);
  unsigned party_per_mille = s.role == SHEGONG__V1__ROLE__SECRETARY   ? 1000
                             : s.role == SHEGONG__V1__ROLE__DIRECTOR  ? 850
                             : w->source == SHEGONG__V1__SOURCE__VETERAN ? 800
                                                                         : 450;
  w->party_member = rng_chance(r, party_per_mille);
  w->certification = pick_certification(r, w->source);

  /* 崇川's 四岗十二档: the post follows the role, the step the years */
  switch (s.role) {
  case SHEGONG__V1__ROLE__SECRETARY: w->post[0] = 'A'; break;
  case SHEGONG__V1__ROLE__DIRECTOR: w->post[0] = 'B'; break;
  case SHEGONG__V1__ROLE__GENERALIST: w->post[0] = 'C'; break;
  default: w->post[0] = 'D'; break;
  }
  w->post[1] = '\0';
  int age_at_hire = years_between(birth, hire);
  int service = years_between(hire, last_day);
  /* earlier work counts in full when it was community-like, half otherwise */
  bool credited = w->source == SHEGONG__V1__SOURCE__COMMITTEE_CADRE ||
                  w->source == SHEGONG__V1__SOURCE__VILLAGE_COMMITTEE ||
                  w->source == SHEGONG__V1__SOURCE__GRID_CONVERSION ||
                  w->source == SHEGONG__V1__SOURCE__VETERAN ||
                  w->source == SHEGONG__V1__SOURCE__SOCIAL_WORKER;
  int prior = age_at_hire - 22;
  if (!credited) prior /= 2;
  int level = 1 + (service + prior) / 4 + (int)w->certification;
  w->level = (uint32_t)(level > 12 ? 12 : level);
  w->created_level = w->level;
  w->hire_day = hire;
  /* the last periodic step: on the latest four-year anniversary of the hire,
   * recorded through Workers/ChangeLevel; about one in eight recent ones is
   * still waiting to be granted, which the eligibility report shows */
  /* drawn from a stream of its own, so that names, dates and ID numbers of
   * each seed stay as they were before the demo had history */
  rng h;
  rng_init(&h, d->seed, STREAM_HISTORY, (uint64_t)hire * 7919u + w->level);
  w->merit = rng_range(&h, -6, 6);
  int steps = service / 4;
  if (steps > 0 && w->level > 1) {
    long step = add_years(hire, 4 * steps);
    bool recent = step > days_from_civil(WORLD_END_Y - 1, 12, 31);
    if (!(recent && rng_chance(&h, 125))) {
      w->created_level = w->level - 1;
      format_date(step, w->step_date);
    } else {
      /* the step is due, not yet given: the one before it is the last */
      w->level = w->created_level = w->level - 1;
      if (steps > 1 && w->level > 1) {
        w->created_level = w->level - 1;
        format_date(add_years(hire, 4 * (steps - 1)), w->step_date);
      }
    }
  }

  w->status = SHEGONG__V1__WORKER_STATUS__ACTIVE;
  if (town_centre && hire >= days_from_civil(WORLD_END_Y, 1, 1))
    w->status = SHEGONG__V1__WORKER_STATUS__PLACEMENT; /* 首年下沉 */
  else if (s.role == SHEGONG__V1__ROLE__GENERALIST && hire < days_from_civil(2022, 1, 1) &&
           rng_chance(r, 20))
    w->status = SHEGONG__V1__WORKER_STATUS__ROTATING;

  make_phone(r, w->phone);
  make_name(r, male, w->name, sizeof w->name);

  /* a few have left since; a secretary's leaving is not this demo's story */
  long leave_last_hire = days_from_civil(WORLD_END_Y, 9, 30);
  if (w->status == SHEGONG__V1__WORKER_STATUS__ACTIVE && s.role != SHEGONG__V1__ROLE__SECRETARY &&
      hire <= leave_last_hire && rng_chance(r, 35)) {
    long leave = rng_day(r, hire + 90, last_day);
    w->leaves = true;
    w->leave_day = leave;
    format_date(leave, w->leave_date);
    w->leave_reason = pick_leave_reason(r, years_between(birth, leave));
  }
}

/*
 * Decides how many workers each unit gets and plans them. Holders are the
 * communities and villages of a town, then the town (its centre staff).
 * Fewer workers than the usual staffing: every unit loses from its tail
 * evenly. More: the extra posts go round the units one at a time.
 */
static int plan_workers(demo *d) {
  size_t n_holders = d->n_locals + d->n_towns;
  size_t *natural = calloc(n_holders ? n_holders : 1, sizeof *natural);
  size_t *take = calloc(n_holders ? n_holders : 1, sizeof *take);
  const unit_plan **holder = calloc(n_holders ? n_holders : 1, sizeof *holder);
  worker_ctx wc;
  memset(&wc, 0, sizeof wc);
  int rc = -1;
  if (!natural || !take || !holder) goto out;

  size_t h = 0, total_natural = 0, longest = 0;
  for (size_t t = 0; t < d->n_towns; t++) {
    const unit_plan *town = &d->towns[t];
    for (size_t j = 0; j < town->n_locals; j++) {
      slot slots[MAX_NATURAL_SLOTS];
      holder[h] = &d->locals[town->first_local + j];
      natural[h] = local_slots(holder[h], slots);
      h++;
    }
    holder[h] = town;
    natural[h] = town->n_centre;
    h++;
  }
  for (h = 0; h < n_holders; h++) {
    total_natural += natural[h];
    if (natural[h] > longest) longest = natural[h];
  }

  size_t wanted = d->workers_wanted;
  if (wanted <= total_natural) {
    /* the deepest level r at which every unit keeps min(natural, r) */
    size_t depth = 0, given = 0;
    for (size_t r = 1; r <= longest; r++) {
      size_t sum = 0;
      for (h = 0; h < n_holders; h++) sum += natural[h] < r ? natural[h] : r;
      if (sum > wanted) break;
      depth = r;
      given = sum;
    }
    for (h = 0; h < n_holders; h++) take[h] = natural[h] < depth ? natural[h] : depth;
    for (h = 0; h < n_holders && given < wanted; h++)
      if (natural[h] > depth) {
        take[h]++;
        given++;
      }
  } else {
    size_t extra = wanted - total_natural;
    for (h = 0; h < n_holders; h++)
      take[h] = natural[h] + extra / n_holders + (h < extra % n_holders ? 1 : 0);
  }

  d->workers = calloc(wanted ? wanted : 1, sizeof *d->workers);
  if (!d->workers) goto out;
  rng_init(&wc.r, d->seed, STREAM_WORKERS, 0);
  if (id_set_init(&wc.ids, wanted) != 0) goto out;
  wc.id_counter = rng_below(&wc.r, 500);

  for (h = 0; h < n_holders; h++) {
    const unit_plan *u = holder[h];
    bool is_town = u->kind == SHEGONG__V1__UNIT_KIND__TOWN;
    slot slots[MAX_NATURAL_SLOTS];
    size_t n_slots = is_town ? 0 : local_slots(u, slots);
    for (size_t i = 0; i < take[h] && d->n_workers < wanted; i++) {
      slot s;
      if (is_town)
        s = (slot){SHEGONG__V1__ROLE__GENERALIST, SIZE_MAX};
      else if (i < n_slots)
        s = slots[i];
      else
        s = local_extra_slot(u, i - n_slots);
      plan_worker(&wc, u, s, d, &d->workers[d->n_workers++]);
    }
  }
  rc = 0;
out:
  free(wc.ids.keys);
  free(natural);
  free(take);
  free(holder);
  return rc;
}

static void demo_free(demo *d) {
  free(d->towns);
  free(d->locals);
  free(d->grids);
  free(d->workers);
}

/* ------------------------------------------------------------------------ */
/* Sending: a window of pipelined calls for one level at a time. */

typedef enum phase { PHASE_TOWNS, PHASE_LOCALS, PHASE_GRIDS, PHASE_WORKERS, PHASE_LEAVES } phase;

typedef struct pipeline {
  sg_client *client;
  demo *d;
  phase phase;
  const char *method;
  size_t n;
  uint32_t call_ids[WINDOW];
  size_t items[WINDOW];
} pipeline;

static const char *unit_kind_word(Shegong__V1__UnitKind kind) {
  switch (kind) {
  case SHEGONG__V1__UNIT_KIND__DISTRICT: return "district";
  case SHEGONG__V1__UNIT_KIND__TOWN: return "town";
  case SHEGONG__V1__UNIT_KIND__COMMUNITY: return "community";
  case SHEGONG__V1__UNIT_KIND__VILLAGE: return "village";
  case SHEGONG__V1__UNIT_KIND__GRID: return "grid";
  default: return "unit";
  }
}

static void describe_unit(const unit_plan *u, char *buf, size_t len) {
  snprintf(buf, len, "creating %s %s %s", unit_kind_word(u->kind), u->code, u->name);
}

static void describe_item(const pipeline *p, size_t item, char *buf, size_t len) {
  const demo *d = p->d;
  switch (p->phase) {
  case PHASE_TOWNS: describe_unit(&d->towns[item], buf, len); break;
  case PHASE_LOCALS: describe_unit(&d->locals[item], buf, len); break;
  case PHASE_GRIDS: describe_unit(&d->grids[item], buf, len); break;
  case PHASE_WORKERS: {
    const worker_plan *w = &d->workers[item];
    snprintf(buf, len, "creating worker %s (%s) in %s", w->name, w->id_number, w->unit->code);
    break;
  }
  case PHASE_LEAVES: {
    const worker_plan *w = &d->workers[item];
    snprintf(buf, len, "recording that worker %llu %s (%s) left on %s",
             (unsigned long long)w->id, w->name, w->id_number, w->leave_date);
    break;
  }
  }
}

static void report_failure(const char *what, const sg_status *st) {
  fprintf(stderr, "%s: %s: %s: %s\n", PROG, what, sg_code_name(st->code), st->message);
  size_t shown = st->n_violations < SG_STATUS_VIOLATIONS_MAX ? st->n_violations
                                                              : SG_STATUS_VIOLATIONS_MAX;
  for (size_t i = 0; i < shown; i++)
    fprintf(stderr, "  %s: %s\n", st->violations[i].field, st->violations[i].description);
}

static void on_answer(pipeline *p, size_t item, ProtobufCMessage *resp) {
  demo *d = p->d;
  switch (p->phase) {
  case PHASE_TOWNS: d->made_towns++; break;
  case PHASE_LOCALS: d->made_locals++; break;
  case PHASE_GRIDS: d->made_grids++; break;
  case PHASE_WORKERS:
    d->made_workers++;
    if (resp && resp->descriptor == &shegong__v1__worker__descriptor)
      d->workers[item].id = ((Shegong__V1__Worker *)resp)->id;
    break;
  case PHASE_LEAVES: d->made_leaves++; break;
  }
}

static int pipeline_recv_one(pipeline *p) {
  uint32_t call_id = UINT32_MAX;
  ProtobufCMessage *resp = NULL;
  sg_status st;
  memset(&st, 0, sizeof st);
  int rc = sg_call_recv_any(p->client, &call_id, &resp, CALL_TIMEOUT_MS, &st);
  size_t i = 0;
  while (i < p->n && p->call_ids[i] != call_id) i++;
  if (rc != 0 || i == p->n) {
    char what[512];
    if (i < p->n)
      describe_item(p, p->items[i], what, sizeof what);
    else
      snprintf(what, sizeof what, "waiting for %s answers", p->method);
    if (rc == 0) {
      st.code = 13; /* INTERNAL: an answer to a call we did not make */
      snprintf(st.message, sizeof st.message, "answer to unknown call %u", (unsigned)call_id);
    }
    report_failure(what, &st);
    if (resp) protobuf_c_message_free_unpacked(resp, NULL);
    return -1;
  }
  size_t item = p->items[i];
  p->n--;
  p->call_ids[i] = p->call_ids[p->n];
  p->items[i] = p->items[p->n];
  on_answer(p, item, resp);
  if (resp) protobuf_c_message_free_unpacked(resp, NULL);
  return 0;
}

static int pipeline_send(pipeline *p, const ProtobufCMessage *req, size_t item) {
  if (p->n == WINDOW && pipeline_recv_one(p) != 0) return -1;
  uint32_t call_id = 0;
  sg_status st;
  memset(&st, 0, sizeof st);
  if (sg_call_send(p->client, p->method, req, CALL_TIMEOUT_MS, &call_id, &st) != 0) {
    char what[512];
    describe_item(p, item, what, sizeof what);
    report_failure(what, &st);
    return -1;
  }
  p->call_ids[p->n] = call_id;
  p->items[p->n] = item;
  p->n++;
  return 0;
}

static int pipeline_drain(pipeline *p) {
  while (p->n > 0)
    if (pipeline_recv_one(p) != 0) return -1;
  return 0;
}

static void fill_unit(Shegong__V1__Unit *msg, const unit_plan *u, const char *parent_code) {
  msg->kind = u->kind;
  msg->code = (char *)u->code;
  msg->name = (char *)u->name;
  if (parent_code) msg->parent_code = (char *)parent_code;
  msg->households = u->households;
  msg->residents = u->residents;
  msg->aged_60_percent = u->aged_tenths / 10.0;
  msg->area_km2 = u->area_tenths / 10.0;
}

static int send_unit(pipeline *p, const unit_plan *u, const char *parent_code, size_t item) {
  Shegong__V1__Unit unit = SHEGONG__V1__UNIT__INIT;
  Shegong__V1__CreateUnitRequest req = SHEGONG__V1__CREATE_UNIT_REQUEST__INIT;
  fill_unit(&unit, u, parent_code);
  req.unit = &unit;
  return pipeline_send(p, &req.base, item);
}

static int send_worker(pipeline *p, const worker_plan *w, size_t item) {
  Shegong__V1__Worker worker = SHEGONG__V1__WORKER__INIT;
  Shegong__V1__CreateWorkerRequest req = SHEGONG__V1__CREATE_WORKER_REQUEST__INIT;
  worker.name = (char *)w->name;
  worker.gender = w->gender;
  worker.birth_date = (char *)w->birth_date;
  worker.id_number = (char *)w->id_number;
  worker.phone = (char *)w->phone;
  worker.education = w->education;
  worker.party_member = w->party_member;
  worker.category = w->category;
  worker.role = w->role;
  worker.source = w->source;
  worker.certification = w->certification;
  worker.post = (char *)w->post;
  worker.level = w->created_level;
  worker.unit_code = (char *)w->unit->code;
  if (w->grid) worker.grid_code = (char *)w->grid->code;
  worker.hire_date = (char *)w->hire_date;
  worker.status = w->status;
  req.worker = &worker;
  return pipeline_send(p, &req.base, item);
}

static int send_leave(pipeline *p, const worker_plan *w, size_t item) {
  Shegong__V1__LeaveWorkerRequest req = SHEGONG__V1__LEAVE_WORKER_REQUEST__INIT;
  req.id = w->id;
  req.expected_version = 0;
  req.leave_date = (char *)w->leave_date;
  req.reason = (char *)w->leave_reason;
  return pipeline_send(p, &req.base, item);
}

/* 0: created; 1: the district was there already; -1: failed (reported). */
static int create_district(sg_client *c, const demo *d) {
  Shegong__V1__Unit unit = SHEGONG__V1__UNIT__INIT;
  Shegong__V1__CreateUnitRequest req = SHEGONG__V1__CREATE_UNIT_REQUEST__INIT;
  fill_unit(&unit, &d->district, NULL);
  req.unit = &unit;
  ProtobufCMessage *resp = NULL;
  sg_status st;
  memset(&st, 0, sizeof st);
  int rc = sg_call(c, "Units/Create", &req.base, &resp, CALL_TIMEOUT_MS, &st);
  if (resp) protobuf_c_message_free_unpacked(resp, NULL);
  if (rc == SG_EEXISTS) return 1;
  if (rc != 0) {
    char what[256];
    describe_unit(&d->district, what, sizeof what);
    report_failure(what, &st);
    return -1;
  }
  return 0;
}

static int load_district(sg_client *c, demo *d) {
  pipeline p;
  memset(&p, 0, sizeof p);
  p.client = c;
  p.d = d;
  p.method = "Units/Create";

  /* each level waits for the one above: a unit's parent must exist */
  p.phase = PHASE_TOWNS;
  for (size_t i = 0; i < d->n_towns; i++)
    if (send_unit(&p, &d->towns[i], d->district.code, i) != 0) return -1;
  if (pipeline_drain(&p) != 0) return -1;

  p.phase = PHASE_LOCALS;
  for (size_t i = 0; i < d->n_locals; i++)
    if (send_unit(&p, &d->locals[i], d->towns[d->locals[i].parent].code, i) != 0) return -1;
  if (pipeline_drain(&p) != 0) return -1;

  p.phase = PHASE_GRIDS;
  for (size_t i = 0; i < d->n_grids; i++)
    if (send_unit(&p, &d->grids[i], d->locals[d->grids[i].parent].code, i) != 0) return -1;
  if (pipeline_drain(&p) != 0) return -1;

  p.phase = PHASE_WORKERS;
  p.method = "Workers/Create";
  for (size_t i = 0; i < d->n_workers; i++)
    if (send_worker(&p, &d->workers[i], i) != 0) return -1;
  if (pipeline_drain(&p) != 0) return -1;

  /* leaving needs the id the server gave, so it comes after all creates */
  p.phase = PHASE_LEAVES;
  p.method = "Workers/Leave";
  for (size_t i = 0; i < d->n_workers; i++)
    if (d->workers[i].leaves && d->workers[i].id != 0)
      if (send_leave(&p, &d->workers[i], i) != 0) return -1;
  return pipeline_drain(&p);
}


/* ------------------------------------------------------------------------ */
/* History: the district's policy, three years of year-end assessments with
 * household visits, level steps, and training, so that every report has
 * something to show. All of it goes through the API, as a town would. */

/* 崇川's rules as the demo uses them; both step rules, so that both show. */
static const char demo_policy[] =
    "name = 崇川区 (demo)\n"
    "[assessment]\n"
    "superior_weight = 70\nresident_weight = 30\n"
    "excellent_min = 90\nqualified_min = 75\nbasic_min = 60\n"
    "visit_minimum = 200\n"
    "[training]\n"
    "pre_service_grace_days = 30\npromotion_grace_days = 0\nsecretary_annual_hours = 24\n"
    "[ladder]\n"
    "name = 四岗十二档\nperiodic_step_years = 4\nearly_step_excellent_years = 2\n"
    "post = A 1-12\npost = B 1-12\npost = C 1-12\npost = D 1-12\n"
    /* 崇川's "7+N": 4 主责, 3 全科 and one per neighbourhood (the demo's grids) */
    "[quota]\nname = 崇川 7+N\nunit_kind = community\n"
    "role = lead 4\nrole = general 3\nrole = grid 0 1\n"
    "[quota]\nname = 村 2+3+N\nunit_kind = village\n"
    "role = lead 2\nrole = general 3\nrole = grid 0 1\n"
    "ageing_threshold_percent = 30\nageing_extra = 1\n"
    "[quota]\nname = 街镇中心档\nunit_kind = town\n"
    "tier = 0 0 8\ntier = 60000 20 12\ntier = 100000 40 16\n"
    "[quota]\nname = 全国 18/万人\nunit_kind = district\nscope = whole\nper_10k_residents = 18\n";

#define HISTORY_YEARS_DEFAULT 3
#define HISTORY_YEARS_MAX 10

/* A window of pipelined calls of any method; an error stops the load. */
typedef struct hpipe {
  sg_client *client;
  size_t n;
  uint32_t ids[WINDOW];
  char what[WINDOW][96];
  size_t sent;
} hpipe;

static int hpipe_recv(hpipe *p) {
  uint32_t id = 0;
  ProtobufCMessage *resp = NULL;
  sg_status st;
  memset(&st, 0, sizeof st);
  int rc = sg_call_recv_any(p->client, &id, &resp, CALL_TIMEOUT_MS, &st);
  if (resp) protobuf_c_message_free_unpacked(resp, NULL);
  size_t i = 0;
  while (i < p->n && p->ids[i] != id) i++;
  if (rc != 0) {
    report_failure(i < p->n ? p->what[i] : "loading history", &st);
    return -1;
  }
  if (i == p->n) return 0;
  p->n--;
  p->ids[i] = p->ids[p->n];
  memcpy(p->what[i], p->what[p->n], sizeof p->what[i]);
  return 0;
}

static int hpipe_send(hpipe *p, const char *method, const ProtobufCMessage *req, const char *what) {
  if (p->n == WINDOW && hpipe_recv(p) != 0) return -1;
  sg_status st;
  memset(&st, 0, sizeof st);
  uint32_t id;
  if (sg_call_send(p->client, method, req, CALL_TIMEOUT_MS, &id, &st) != 0) {
    report_failure(what, &st);
    return -1;
  }
  p->ids[p->n] = id;
  snprintf(p->what[p->n], sizeof p->what[0], "%s", what);
  p->n++;
  p->sent++;
  return 0;
}

static int hpipe_drain(hpipe *p) {
  while (p->n)
    if (hpipe_recv(p) != 0) return -1;
  return 0;
}

/* One call, answered before the next: for the few that later calls need. */
static int call_once(sg_client *c, const char *method, const ProtobufCMessage *req,
                     ProtobufCMessage **resp, const char *what) {
  sg_status st;
  memset(&st, 0, sizeof st);
  if (sg_call(c, method, req, resp, CALL_TIMEOUT_MS, &st) != 0) {
    report_failure(what, &st);
    return -1;
  }
  return 0;
}

static int load_policy(sg_client *c) {
  sg_arena a;
  sg_arena_init(&a, 1u << 20);
  sg_policy_src *src = calloc(1, sizeof *src);
  Shegong__V1__Policy *p = NULL;
  int rc = -1;
  if (src && sg_policy_parse(demo_policy, sizeof demo_policy - 1, &a, &p, src) == 0) {
    Shegong__V1__SetPolicyRequest req = SHEGONG__V1__SET_POLICY_REQUEST__INIT;
    Shegong__V1__GetPolicyRequest get = SHEGONG__V1__GET_POLICY_REQUEST__INIT;
    ProtobufCMessage *cur = NULL, *resp = NULL;
    if (call_once(c, "Policies/Get", &get.base, &cur, "reading the policy") == 0) {
      req.expected_version = ((Shegong__V1__Policy *)cur)->version;
      protobuf_c_message_free_unpacked(cur, NULL);
      req.policy = p;
      rc = call_once(c, "Policies/Set", &req.base, &resp, "loading the demo policy");
      if (resp) protobuf_c_message_free_unpacked(resp, NULL);
    }
  } else {
    fprintf(stderr, "%s: internal error: the demo policy does not parse\n", PROG);
  }
  free(src);
  sg_arena_destroy(&a);
  return rc;
}

/* Working on any day of the year? */
static bool works_in(const worker_plan *w, int year) {
  return w->id && w->hire_day <= days_from_civil(year, 12, 31) &&
         (!w->leave_day || w->leave_day >= days_from_civil(year, 1, 1));
}

static double score(rng *r, int lean) {
  /* 70-99, one decimal: most land between 80 and 92 */
  int tenths = rng_triangular(r, 700, 990) + lean * 10;
  if (tenths < 550) tenths = 550;
  if (tenths > 995) tenths = 995;
  return tenths / 10.0;
}

/* Year-end results (with the year's visits), one Bulk call per unit and year. */
static int load_assessments(demo *d, hpipe *p, size_t *recorded) {
  size_t n_units = d->n_towns + d->n_locals;
  size_t per = d->quarterly ? 5 : 1;
  Shegong__V1__RecordAssessmentRequest *rows = calloc(d->n_workers * per + 1, sizeof *rows);
  Shegong__V1__RecordAssessmentRequest **row_ptrs = calloc(d->n_workers * per + 1, sizeof *row_ptrs);
  Shegong__V1__Assessment *as = calloc(d->n_workers * per + 1, sizeof *as);
  char (*dates)[11] = calloc(d->n_workers * per + 1, sizeof *dates);
  int rc = rows && row_ptrs && as && dates ? 0 : -1;
  for (int year = WORLD_END_Y - d->history_years + 1; rc == 0 && year <= WORLD_END_Y; year++) {
    for (size_t u = 0; rc == 0 && u < n_units; u++) {
      const unit_plan *unit = u < d->n_towns ? &d->towns[u] : &d->locals[u - d->n_towns];
      /* the rows of this unit (a request is packed when it is sent: the
       * memory serves the next unit at once) */
      size_t n = 0;
      for (size_t i = 0; i < d->n_workers; i++) {
        worker_plan *w = &d->workers[i];
        if (w->unit != unit || !works_in(w, year)) continue;
        rng r;
        rng_init(&r, d->seed, STREAM_HISTORY, (uint64_t)i * 31 + (uint64_t)year);
        Shegong__V1__Assessment *a = &as[n];
        shegong__v1__assessment__init(a);
        a->worker_id = w->id;
        a->kind = SHEGONG__V1__ASSESSMENT_KIND__YEAR_END;
        a->year = (uint32_t)year;
        a->superior_score = score(&r, w->merit);
        a->resident_score = score(&r, w->merit / 2);
        a->assessor = (char *)"街道考核小组";
        long on = days_from_civil(year + 1, 1, 10 + (int)rng_below(&r, 15));
        if (w->leave_day && on > w->leave_day) on = w->leave_day;
        if (on < days_from_civil(year, 1, 1)) on = days_from_civil(year, 1, 1);
        if (on > days_from_civil(WORLD_END_Y, 12, 31)) on = days_from_civil(WORLD_END_Y, 12, 31);
        format_date(on, dates[n]);
        a->assessed_on = dates[n];
        shegong__v1__record_assessment_request__init(&rows[n]);
        rows[n].assessment = a;
        rows[n].set_visits = 1;
        /* most visit well over 200 households; a few fall short */
        rows[n].household_visits = (uint32_t)(rng_chance(&r, 80) ? rng_range(&r, 120, 199)
                                                                 : rng_range(&r, 200, 320));
        row_ptrs[n] = &rows[n];
        n++;
        /* 平时: a result each quarter the worker served, assessed ten days after it */
        for (int q = 1; d->quarterly && q <= 4; q++) {
          long first = days_from_civil(year, 3 * q - 2, 1);
          long last = days_from_civil(q == 4 ? year + 1 : year, q == 4 ? 1 : 3 * q + 1, 1) - 1;
          if (w->hire_day > last || (w->leave_day && w->leave_day < first)) continue;
          Shegong__V1__Assessment *qa = &as[n];
          shegong__v1__assessment__init(qa);
          qa->worker_id = w->id;
          qa->kind = SHEGONG__V1__ASSESSMENT_KIND__REGULAR;
          qa->year = (uint32_t)year;
          qa->quarter = (uint32_t)q;
          qa->superior_score = score(&r, w->merit);
          qa->resident_score = score(&r, w->merit / 2);
          qa->assessor = (char *)"社区考核小组";
          long qon = last + 10;
          if (w->leave_day && qon > w->leave_day) qon = w->leave_day;
          if (qon < first) qon = first;
          if (qon > days_from_civil(WORLD_END_Y, 12, 31)) qon = days_from_civil(WORLD_END_Y, 12, 31);
          format_date(qon, dates[n]);
          qa->assessed_on = dates[n];
          shegong__v1__record_assessment_request__init(&rows[n]);
          rows[n].assessment = qa;
          row_ptrs[n] = &rows[n];
          n++;
        }
      }
      if (!n) continue;
      Shegong__V1__BulkAssessmentRequest req = SHEGONG__V1__BULK_ASSESSMENT_REQUEST__INIT;
      req.unit_code = (char *)unit->code;
      req.rows = row_ptrs;
      req.n_rows = n;
      char what[96];
      snprintf(what, sizeof what, "recording %d year-end results of %s", year, unit->code);
      rc = hpipe_send(p, "Assessments/Bulk", &req.base, what);
      /* the request is packed when sent: its memory may be reused after the drain */
      *recorded += n;
    }
  }
  if (rc == 0) rc = hpipe_drain(p);
  free(rows);
  free(row_ptrs);
  free(as);
  free(dates);
  return rc;
}

/* The periodic steps planned with the workers. */
static int load_steps(demo *d, hpipe *p, size_t *steps) {
  for (size_t i = 0; i < d->n_workers; i++) {
    worker_plan *w = &d->workers[i];
    /* a leaver's record is closed: the step is the level it left at */
    if (!w->id || !w->step_date[0] || w->leaves) continue;
    Shegong__V1__ChangeLevelRequest req = SHEGONG__V1__CHANGE_LEVEL_REQUEST__INIT;
    req.id = w->id;
    req.expected_version = 1;
    req.kind = SHEGONG__V1__LEVEL_CHANGE_KIND__PERIODIC_STEP;
    req.level = w->created_level + 1;
    req.effective_date = w->step_date;
    req.reason = (char *)"四年晋一档";
    char what[96];
    snprintf(what, sizeof what, "stepping worker %llu up on %s", (unsigned long long)w->id,
             w->step_date);
    if (hpipe_send(p, "Workers/ChangeLevel", &req.base, what)) return -1;
    (*steps)++;
  }
  return hpipe_drain(p);
}

/*
 * A few promotions in the last year (D to C, the same level), most of them
 * after a 升岗 course, so that the third rule of 三必训 has cases.
 */
static int load_promotions(sg_client *c, demo *d, hpipe *p, size_t *promoted, size_t *courses);

/* A course; its id in *id. */
static int make_course(sg_client *c, const char *name, Shegong__V1__CourseKind kind, uint32_t hours,
                       long start, long end, uint64_t *id) {
  Shegong__V1__Course course = SHEGONG__V1__COURSE__INIT;
  Shegong__V1__CreateCourseRequest req = SHEGONG__V1__CREATE_COURSE_REQUEST__INIT;
  char s[11], e[11];
  format_date(start, s);
  format_date(end, e);
  course.name = (char *)name;
  course.kind = kind;
  course.hours = hours;
  course.start_date = s;
  course.end_date = e;
  course.provider = (char *)"崇川区社会工作培训中心";
  req.course = &course;
  ProtobufCMessage *resp = NULL;
  if (call_once(c, "Training/CreateCourse", &req.base, &resp, name)) return -1;
  *id = ((Shegong__V1__Course *)resp)->id;
  protobuf_c_message_free_unpacked(resp, NULL);
  return 0;
}

static int attend(hpipe *p, uint64_t course, uint64_t *ids, size_t n, const char *what) {
  if (!n) return 0;
  Shegong__V1__AttendRequest req = SHEGONG__V1__ATTEND_REQUEST__INIT;
  req.course_id = course;
  req.worker_ids = ids;
  req.n_worker_ids = n;
  /* one call at a time: ids is reused by the next */
  return hpipe_send(p, "Training/Attend", &req.base, what) || hpipe_drain(p) ? -1 : 0;
}

/* Secretaries' annual courses and pre-service courses: most attend, some miss. */
static int load_training(sg_client *c, demo *d, hpipe *p, size_t *courses, size_t *attended) {
  uint64_t *ids = malloc((d->n_workers + 1) * sizeof *ids);
  if (!ids) return -1;
  int rc = 0;
  for (int year = WORLD_END_Y - d->history_years + 1; rc == 0 && year <= WORLD_END_Y; year++) {
    char name[96];
    uint64_t course;
    snprintf(name, sizeof name, "%d年社区党组织书记轮训班", year);
    if ((rc = make_course(c, name, SHEGONG__V1__COURSE_KIND__ANNUAL, 24,
                          days_from_civil(year, 9, 8), days_from_civil(year, 9, 12), &course)))
      break;
    (*courses)++;
    size_t n = 0;
    for (size_t i = 0; i < d->n_workers; i++) {
      worker_plan *w = &d->workers[i];
      rng r;
      rng_init(&r, d->seed, STREAM_HISTORY, (uint64_t)i * 37 + (uint64_t)year + 1000000);
      if (w->role == SHEGONG__V1__ROLE__SECRETARY && works_in(w, year) &&
          w->hire_day <= days_from_civil(year, 9, 8) && rng_chance(&r, 920))
        ids[n++] = w->id;
    }
    for (size_t k = 0; rc == 0 && k < n; k += 1000) {
      rc = attend(p, course, ids + k, n - k < 1000 ? n - k : 1000, name);
    }
    *attended += n;
    /* 岗前培训: one course a month, the first week, for that month's hires */
    for (int m = 1; rc == 0 && m <= 12; m++) {
      n = 0;
      for (size_t i = 0; i < d->n_workers; i++) {
        worker_plan *w = &d->workers[i];
        int y, mm, dd;
        civil_from_days(w->hire_day, &y, &mm, &dd);
        rng r;
        rng_init(&r, d->seed, STREAM_HISTORY, (uint64_t)i * 41 + 2000000);
        if (w->id && y == year && mm == m && rng_chance(&r, 900)) ids[n++] = w->id;
      }
      if (!n) continue;
      snprintf(name, sizeof name, "%d年%d月新进社工岗前培训", year, m);
      if ((rc = make_course(c, name, SHEGONG__V1__COURSE_KIND__PRE_SERVICE, 40,
                            days_from_civil(year, m, 1), days_from_civil(year, m, 5), &course)))
        break;
      (*courses)++;
      rc = attend(p, course, ids, n, name);
      *attended += n;
    }
  }
  free(ids);
  return rc;
}

static int load_promotions(sg_client *c, demo *d, hpipe *p, size_t *promoted, size_t *courses) {
  const char *when = "2025-06-16";
  uint64_t course;
  if (make_course(c, "2025年社工升岗培训班", SHEGONG__V1__COURSE_KIND__PROMOTION_COURSE, 16,
                  days_from_civil(WORLD_END_Y, 6, 9), days_from_civil(WORLD_END_Y, 6, 11), &course))
    return -1;
  (*courses)++;
  uint64_t *ids = malloc((d->n_workers + 1) * sizeof *ids);
  if (!ids) return -1;
  size_t n = 0;
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < d->n_workers; i++) {
    worker_plan *w = &d->workers[i];
    rng r;
    rng_init(&r, d->seed, STREAM_HISTORY, (uint64_t)i * 43 + 3000000);
    if (!w->id || w->leaves || w->post[0] != 'D' || w->hire_day > days_from_civil(2021, 1, 1) ||
        strcmp(w->step_date, when) > 0 || !rng_chance(&r, 15))
      continue;
    Shegong__V1__ChangeLevelRequest req = SHEGONG__V1__CHANGE_LEVEL_REQUEST__INIT;
    req.id = w->id;
    req.expected_version = w->step_date[0] ? 2 : 1;
    req.kind = SHEGONG__V1__LEVEL_CHANGE_KIND__PROMOTION;
    req.post = (char *)"C";
    req.level = w->level;
    req.effective_date = (char *)when;
    req.reason = (char *)"竞聘上岗: 全科社工";
    char what[96];
    snprintf(what, sizeof what, "promoting worker %llu", (unsigned long long)w->id);
    rc = hpipe_send(p, "Workers/ChangeLevel", &req.base, what);
    (*promoted)++;
    if (rng_chance(&r, 800)) ids[n++] = w->id;
  }
  if (rc == 0) rc = hpipe_drain(p);
  if (rc == 0) rc = attend(p, course, ids, n, "2025年社工升岗培训班");
  free(ids);
  return rc;
}

/*
 * 居村交流: each year, `exchanges` workers of each town move between a
 * community and a village of the town on June 1, proposed and approved
 * through Transfers as a town would. After the results and training, which
 * went to the unit each worker was planned in.
 */
static int load_exchanges(sg_client *c, demo *d, size_t *moved) {
  if (!d->exchanges) return 0;
  bool *done = calloc(d->n_workers + 1, sizeof *done);
  if (!done) return -1;
  int rc = 0;
  for (int year = WORLD_END_Y - d->history_years + 1; rc == 0 && year <= WORLD_END_Y; year++) {
    long june = days_from_civil(year, 6, 1);
    char eff[11];
    format_date(june, eff);
    for (size_t t = 0; rc == 0 && t < d->n_towns; t++) {
      const unit_plan *town = &d->towns[t];
      unsigned made = 0;
      rng r;
      rng_init(&r, d->seed, STREAM_HISTORY, 7000000u + (uint64_t)year * 1000 + t);
      size_t start = (size_t)rng_below(&r, d->n_workers ? d->n_workers : 1);
      for (size_t k = 0; rc == 0 && k < d->n_workers && made < d->exchanges; k++) {
        size_t i = (start + k) % d->n_workers;
        worker_plan *w = &d->workers[i];
        if (done[i] || !w->id || w->leaves || w->hire_day > june - 30 ||
            w->category != SHEGONG__V1__CATEGORY__COMMUNITY_BASED ||
            w->status != SHEGONG__V1__WORKER_STATUS__ACTIVE || w->unit->kind == SHEGONG__V1__UNIT_KIND__TOWN ||
            d->towns + w->unit->parent != town)
          continue;
        /* the first unit of the other kind in the town */
        const unit_plan *to = NULL;
        for (size_t l = town->first_local; l < town->first_local + town->n_locals && !to; l++)
          if (d->locals[l].kind != w->unit->kind) to = &d->locals[l];
        if (!to) break;
        Shegong__V1__Transfer tr = SHEGONG__V1__TRANSFER__INIT;
        tr.kind = SHEGONG__V1__TRANSFER_KIND__EXCHANGE;
        tr.worker_id = w->id;
        tr.to_unit_code = (char *)to->code;
        tr.effective_date = eff;
        tr.reason = (char *)"居村交流: 到村 (社区) 任职";
        Shegong__V1__ProposeTransferRequest pr = SHEGONG__V1__PROPOSE_TRANSFER_REQUEST__INIT;
        pr.transfer = &tr;
        ProtobufCMessage *resp = NULL;
        char what[96];
        snprintf(what, sizeof what, "proposing an exchange of worker %llu", (unsigned long long)w->id);
        if ((rc = call_once(c, "Transfers/Propose", &pr.base, &resp, what))) break;
        Shegong__V1__DecideTransferRequest ap = SHEGONG__V1__DECIDE_TRANSFER_REQUEST__INIT;
        ap.id = ((Shegong__V1__Transfer *)resp)->id;
        ap.expected_version = ((Shegong__V1__Transfer *)resp)->version;
        ap.note = (char *)"同意";
        protobuf_c_message_free_unpacked(resp, NULL);
        resp = NULL;
        if ((rc = call_once(c, "Transfers/Approve", &ap.base, &resp, what))) break;
        protobuf_c_message_free_unpacked(resp, NULL);
        done[i] = true;
        made++;
        (*moved)++;
      }
    }
  }
  free(done);
  return rc;
}

static int load_history(sg_client *c, demo *d, bool quiet) {
  hpipe p;
  memset(&p, 0, sizeof p);
  p.client = c;
  size_t assessed = 0, steps = 0, courses = 0, attended = 0, promoted = 0, moved = 0;
  uint64_t started = sg_now_ms();
  if (load_policy(c) || load_steps(d, &p, &steps) || load_assessments(d, &p, &assessed) ||
      load_training(c, d, &p, &courses, &attended) ||
      load_promotions(c, d, &p, &promoted, &courses) || load_exchanges(c, d, &moved))
    return -1;
  if (!quiet && moved) printf("history: %zu 居村交流 transfers proposed, approved and applied\n", moved);
  if (!quiet)
    printf("history %d-%d: %zu results (year-end with visits%s), %zu level steps, %zu promotions, "
           "%zu courses, %zu attendances in %.1f s\n",
           WORLD_END_Y - d->history_years + 1, WORLD_END_Y, assessed,
           d->quarterly ? " and 平时 each quarter" : "", steps, promoted, courses, attended,
           (double)(sg_now_ms() - started) / 1000.0);
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Command line. */

typedef struct options {
  const char *server;
  uint64_t seed;
  size_t towns;
  size_t workers;
  int history_years;
  bool quarterly;
  unsigned exchanges;
  const char *token_file;
  bool quiet;
} options;

static void usage(FILE *f) {
  fprintf(f,
          "usage: %s [--server HOST:PORT] [--seed N] [--towns N] [--workers N]\n"
          "                    [--history-years N] [--quarterly] [--exchanges N]\n"
          "                    [--token-file F] [--quiet]\n"
          "Loads the demo district %s %s into a running shegongd.\n"
          "  --server HOST:PORT  server (default $SHEGONG_SERVER, else %s)\n"
          "  --seed N            the same seed gives the same district (default 1)\n"
          "  --towns N           towns to create, 1-%d (default 12)\n"
          "  --workers N         workers to create, 0-%u (default 3000)\n"
          "  --history-years N   years of results, visits and training, 1-%d (default %d)\n"
          "  --quarterly         also a 平时 result per worker and quarter\n"
          "  --exchanges N       居村交流 transfers per town and year (default 0)\n"
          "  --token-file F      bearer token to send (default $SHEGONG_TOKEN_FILE)\n"
          "  --quiet             print nothing but errors\n",
          PROG, DISTRICT_CODE, DISTRICT_NAME, SG_DEFAULT_SERVER, MAX_TOWNS, MAX_WORKERS,
          HISTORY_YEARS_MAX, HISTORY_YEARS_DEFAULT);
}

static int parse_u64(const char *flag, const char *s, uint64_t min, uint64_t max, uint64_t *out) {
  char *end;
  errno = 0;
  if (s[0] < '0' || s[0] > '9') goto bad;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno != 0 || *end != '\0' || v < min || v > max) goto bad;
  *out = v;
  return 0;
bad:
  fprintf(stderr, "%s: %s wants a number from %llu to %llu, not \"%s\"\n", PROG, flag,
          (unsigned long long)min, (unsigned long long)max, s);
  return -1;
}

/* Returns 0, or the exit status to leave with (2 for misuse, -1 for --help). */
static int parse_args(int argc, char **argv, options *o) {
  const char *env_server = getenv("SHEGONG_SERVER");
  const char *env_token = getenv("SHEGONG_TOKEN_FILE");
  o->server = env_server && *env_server ? env_server : SG_DEFAULT_SERVER;
  o->seed = 1;
  o->towns = 12;
  o->workers = 3000;
  o->token_file = env_token && *env_token ? env_token : NULL;
  o->quiet = false;
  o->history_years = HISTORY_YEARS_DEFAULT;
  o->quarterly = false;
  o->exchanges = 0;

  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
      usage(stdout);
      return -1;
    }
    if (strcmp(arg, "--quiet") == 0 || strcmp(arg, "-q") == 0) {
      o->quiet = true;
      continue;
    }
    if (strcmp(arg, "--quarterly") == 0) {
      o->quarterly = true;
      continue;
    }
    static const char *const valued[] = {"--server", "--seed", "--towns", "--workers",
                                         "--token-file", "--history-years", "--exchanges"};
    const char *value = NULL, *flag = NULL;
    for (size_t k = 0; k < sizeof valued / sizeof valued[0] && !flag; k++) {
      size_t len = strlen(valued[k]);
      if (strcmp(arg, valued[k]) == 0) {
        if (i + 1 >= argc) {
          fprintf(stderr, "%s: %s needs a value\n", PROG, arg);
          return 2;
        }
        flag = valued[k];
        value = argv[++i];
      } else if (strncmp(arg, valued[k], len) == 0 && arg[len] == '=') {
        flag = valued[k];
        value = arg + len + 1;
      }
    }
    if (!flag) {
      fprintf(stderr, "%s: unknown argument \"%s\"\n", PROG, arg);
      usage(stderr);
      return 2;
    }
    uint64_t v;
    if (strcmp(flag, "--server") == 0) {
      if (!*value) {
        fprintf(stderr, "%s: --server needs HOST:PORT\n", PROG);
        return 2;
      }
      o->server = value;
    } else if (strcmp(flag, "--token-file") == 0) {
      o->token_file = value;
    } else if (strcmp(flag, "--seed") == 0) {
      if (parse_u64(flag, value, 0, UINT64_MAX, &v) != 0) return 2;
      o->seed = v;
    } else if (strcmp(flag, "--towns") == 0) {
      if (parse_u64(flag, value, 1, MAX_TOWNS, &v) != 0) return 2;
      o->towns = (size_t)v;
    } else if (strcmp(flag, "--history-years") == 0) {
      if (parse_u64(flag, value, 1, HISTORY_YEARS_MAX, &v) != 0) return 2;
      o->history_years = (int)v;
    } else if (strcmp(flag, "--exchanges") == 0) {
      if (parse_u64(flag, value, 0, 1000, &v) != 0) return 2;
      o->exchanges = (unsigned)v;
    } else {
      if (parse_u64(flag, value, 0, MAX_WORKERS, &v) != 0) return 2;
      o->workers = (size_t)v;
    }
  }
  return 0;
}

static bool is_space(char ch) {
  return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == '\v' || ch == '\f';
}

/* The token from a file, whitespace trimmed, as "Bearer <token>";
 * malloc'd, NULL on failure (reported). */
static char *read_bearer(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "%s: cannot open token file %s: %s\n", PROG, path, strerror(errno));
    return NULL;
  }
  char *buf = malloc(MAX_TOKEN_BYTES + 1);
  if (!buf) {
    fclose(f);
    fprintf(stderr, "%s: out of memory\n", PROG);
    return NULL;
  }
  size_t n = fread(buf, 1, MAX_TOKEN_BYTES + 1, f);
  bool failed = ferror(f) != 0;
  fclose(f);
  if (failed || n > MAX_TOKEN_BYTES) {
    fprintf(stderr, "%s: cannot read token file %s: %s\n", PROG, path,
            failed ? "read error" : "larger than 64 KiB");
    free(buf);
    return NULL;
  }
  if (memchr(buf, '\0', n)) {
    fprintf(stderr, "%s: token file %s contains a NUL byte\n", PROG, path);
    free(buf);
    return NULL;
  }
  size_t start = 0;
  while (start < n && is_space(buf[start])) start++;
  while (n > start && is_space(buf[n - 1])) n--;
  buf[n] = '\0';
  if (n == start) {
    fprintf(stderr, "%s: token file %s is empty\n", PROG, path);
    free(buf);
    return NULL;
  }
  size_t len = strlen("Bearer ") + (n - start) + 1;
  char *bearer = malloc(len);
  if (bearer) snprintf(bearer, len, "Bearer %s", buf + start);
  else fprintf(stderr, "%s: out of memory\n", PROG);
  free(buf);
  return bearer;
}

int main(int argc, char **argv) {
  options o;
  int rc = parse_args(argc, argv, &o);
  if (rc == -1) return 0;
  if (rc != 0) return rc;

  char *bearer = NULL;
  if (o.token_file && !(bearer = read_bearer(o.token_file))) return 1;

  demo d;
  memset(&d, 0, sizeof d);
  d.seed = o.seed;
  d.workers_wanted = o.workers;
  d.history_years = o.history_years;
  d.quarterly = o.quarterly;
  d.exchanges = o.exchanges;
  int exit_code = 1;
  sg_client *c = NULL;
  if (plan_units(&d, o.towns) != 0 || plan_workers(&d) != 0) {
    fprintf(stderr, "%s: out of memory\n", PROG);
    goto out;
  }

  sg_status st;
  memset(&st, 0, sizeof st);
  if (sg_client_connect(&c, o.server, CONNECT_TIMEOUT_MS, &st) != 0) {
    fprintf(stderr, "%s: cannot connect to %s: %s: %s\n", PROG, o.server, sg_code_name(st.code),
            st.message);
    c = NULL;
    goto out;
  }
  if (bearer && sg_client_set_metadata(c, "authorization", bearer) != 0) {
    fprintf(stderr, "%s: cannot set the authorization metadata\n", PROG);
    goto out;
  }

  uint64_t started = sg_now_ms();
  int made = create_district(c, &d);
  if (made < 0) goto out;
  if (made == 1) {
    if (!o.quiet)
      printf("demo district %s %s is already loaded; nothing to do\n", d.district.code,
             d.district.name);
    exit_code = 0;
    goto out;
  }
  if (load_district(c, &d) != 0) goto out;
  double seconds = (double)(sg_now_ms() - started) / 1000.0;
  if (!o.quiet)
    printf("demo district %s %s: %zu towns, %zu communities and villages, %zu grids, "
           "%zu workers (%zu left) in %.1f s\n",
           d.district.code, d.district.name, d.made_towns, d.made_locals, d.made_grids,
           d.made_workers, d.made_leaves, seconds);
  if (load_history(c, &d, o.quiet) != 0) goto out;
  exit_code = 0;
out:
  if (c) sg_client_close(c);
  demo_free(&d);
  free(bearer);
  return exit_code;
}
