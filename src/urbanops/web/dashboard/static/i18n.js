// Korean and English labels of the dashboard. The browser's language picks the first one; the
// choice is kept in localStorage. Elements name their label with data-i18n (text),
// data-i18n-placeholder and data-i18n-label (aria-label).

const TEXT = {
  en: {
    title: "UrbanOps city dashboard",
    skip: "Skip to the side panel",
    indicators: "Indicators",
    incidents: "Incidents",
    details: "Details",
    language: "Language",
    wall: "Wall screen",
    api_key: "API key",
    sign_in: "Sign in",
    sign_out: "Sign out",
    public_mode: "Public mode (public data only)",
    signed_in_as: "Signed in: {role}",
    bad_key: "That key was refused",
    map: "City map",
    layers: "Layers",
    colour_sensors: "Colour sensors by",
    freshness: "freshness",
    sensors: "Sensors",
    alerts_layer: "Active alerts",
    zones: "Districts",
    streets: "Streets",
    tiles_unreachable: "Basemap tiles unreachable: drawing districts and streets from local data",
    heat_status: "Heat-wave status per district",
    zone: "Zone",
    severity: "Severity",
    kind: "Kind",
    all: "all",
    sev_critical: "critical",
    sev_warning: "warning",
    sev_info: "info",
    state_open: "open",
    state_acknowledged: "acknowledged",
    state_resolved: "resolved",
    acknowledge: "Acknowledge",
    resolve: "Resolve",
    note: "Note",
    details_hint: "Click a sensor or a feature on the map.",
    active_alerts: "Active alerts",
    sensors_online: "Sensors online",
    readings_per_min: "Readings per minute",
    streams: "data streams",
    stale: "stale",
    online: "online",
    no_data: "no data",
    of: "of",
    needs_key: "Sign in to see this",
    live: "Live",
    reconnecting: "Reconnecting…",
    no_incidents: "No active incidents",
    city: "City",
    level_warning: "heat-wave warning",
    level_advisory: "heat-wave advisory",
    level_none: "normal",
    no_heat: "No heat data yet",
    features: "features",
    loading: "Loading…",
    error: "Error",
    observed: "Observed",
    value: "Value",
    property: "Property",
    recent: "Recent observations",
    fly: "Show on map",
    done: "Done",
    seconds_ago: "{n} s ago",
    minutes_ago: "{n} min ago",
    hours_ago: "{n} h ago",
    days_ago: "{n} d ago",
  },
  ko: {
    title: "UrbanOps 도시 상황판",
    skip: "옆 패널로 건너뛰기",
    indicators: "지표",
    incidents: "사건",
    details: "상세",
    language: "언어",
    wall: "상황판 모드",
    api_key: "API 키",
    sign_in: "로그인",
    sign_out: "로그아웃",
    public_mode: "공개 모드 (공개 데이터만)",
    signed_in_as: "로그인: {role}",
    bad_key: "키가 거부되었습니다",
    map: "도시 지도",
    layers: "레이어",
    colour_sensors: "센서 색상 기준",
    freshness: "최신성",
    sensors: "센서",
    alerts_layer: "활성 경보",
    zones: "자치구",
    streets: "도로",
    tiles_unreachable: "배경지도 타일에 연결할 수 없어 자치구와 도로를 로컬 자료로 그립니다",
    heat_status: "자치구별 폭염 상태",
    zone: "구역",
    severity: "심각도",
    kind: "종류",
    all: "전체",
    sev_critical: "심각",
    sev_warning: "경고",
    sev_info: "정보",
    state_open: "발생",
    state_acknowledged: "확인됨",
    state_resolved: "해결됨",
    acknowledge: "확인",
    resolve: "해결",
    note: "메모",
    details_hint: "지도에서 센서나 지점을 누르세요.",
    active_alerts: "활성 경보",
    sensors_online: "작동 중인 센서",
    readings_per_min: "분당 측정값",
    streams: "데이터 스트림",
    stale: "지연",
    online: "정상",
    no_data: "데이터 없음",
    of: "/",
    needs_key: "로그인해야 볼 수 있습니다",
    live: "실시간",
    reconnecting: "다시 연결 중…",
    no_incidents: "활성 사건 없음",
    city: "시 전체",
    level_warning: "폭염경보",
    level_advisory: "폭염주의보",
    level_none: "평상",
    no_heat: "폭염 자료 없음",
    features: "건",
    loading: "불러오는 중…",
    error: "오류",
    observed: "관측 시각",
    value: "값",
    property: "항목",
    recent: "최근 관측값",
    fly: "지도에서 보기",
    done: "완료",
    seconds_ago: "{n}초 전",
    minutes_ago: "{n}분 전",
    hours_ago: "{n}시간 전",
    days_ago: "{n}일 전",
  },
};

let current = "en";

export function initialLanguage() {
  const saved = localStorage.getItem("urbanops.lang");
  if (saved && TEXT[saved]) return saved;
  const browser = (navigator.languages || [navigator.language || "en"])[0] || "en";
  return browser.toLowerCase().startsWith("ko") ? "ko" : "en";
}

export function lang() {
  return current;
}

export function t(key, vars = {}) {
  const text = (TEXT[current] && TEXT[current][key]) ?? TEXT.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
}

/** Pick the text of a {"en": ..., "ko": ...} object in the current language. */
export function pick(titles) {
  return (titles && (titles[current] || titles.en)) || "";
}

export function setLanguage(code) {
  current = TEXT[code] ? code : "en";
  localStorage.setItem("urbanops.lang", current);
  document.documentElement.lang = current;
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll("[data-i18n-placeholder]"))
    el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of document.querySelectorAll("[data-i18n-label]"))
    el.setAttribute("aria-label", t(el.dataset.i18nLabel));
  document.title = t("title");
}

/** "3 min ago" in the current language. */
export function ago(epochS) {
  const s = Math.max(0, Date.now() / 1000 - epochS);
  if (s < 90) return t("seconds_ago", { n: Math.round(s) });
  if (s < 5400) return t("minutes_ago", { n: Math.round(s / 60) });
  if (s < 172800) return t("hours_ago", { n: Math.round(s / 3600) });
  return t("days_ago", { n: Math.round(s / 86400) });
}
