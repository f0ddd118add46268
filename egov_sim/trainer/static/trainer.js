/* The trainer's view: plays one application's flow (egov_sim.trainer.flow, "egov-sim flow v1")
 * step by step -- a sequence diagram of the systems, the current step with its documents and
 * signatures, and a timeline of the virtual clock.
 *
 * Two ways in: served at /trainer of the control system (the run's API gives the catalogue, the
 * applications, plays and flows; the token travels in the run-token header), or the offline
 * export of egov_sim.trainer.html, which embeds one flow in <script id="egov-flow"> and never
 * reaches the network. Plain browser JavaScript: no framework, no build step, nothing fetched
 * from outside the package. */
(function () {
  "use strict";

  var TOKEN_HEADER = "X-Egov-Sim-Token"; // simulation.access.TOKEN_HEADER
  var API = "/trainer/api";
  var LANGS = ["kk", "ru", "en"];
  var SVGNS = "http://www.w3.org/2000/svg";
  var BASE_INTERVAL_MS = 1600; // one step per this at 1x
  var LIVE_POLL_MS = 1000;

  // ---- interface text ----------------------------------------------------------------------
  var T = {
    appTitle: ["Оқытушы көрінісі", "Режим тренера", "Trainer's view"],
    skip: ["Ойнатуға өту", "К воспроизведению", "Skip to the player"],
    language: ["Тіл", "Язык", "Language"],
    projector: ["Проектор режимі", "Режим проектора", "Projector mode"],
    sourceTitle: ["Өтінішті таңдау", "Выбор заявки", "Choose an application"],
    token: ["Кіру токені", "Токен доступа", "Access token"],
    useToken: ["Қолдану", "Применить", "Use token"],
    tokenHint: ["Токенді `egov-sim up` не `egov-sim trainer` шығарған сілтемеден алыңыз (data_dir/admin.token).",
                "Токен – в ссылке, которую печатает `egov-sim up` или `egov-sim trainer` (data_dir/admin.token).",
                "The token is in the link `egov-sim up` or `egov-sim trainer` prints (data_dir/admin.token)."],
    tokenMissing: ["Өтініштерді көру үшін токен енгізіңіз.", "Введите токен, чтобы видеть заявки.",
                   "Paste a token to see the applications."],
    tokenRefused: ["Токен қабылданбады: {msg}", "Токен не принят: {msg}", "The token was refused: {msg}"],
    roleIs: ["Рөл: {role}", "Роль: {role}", "Role: {role}"],
    newApplication: ["Жаңа өтініш", "Новая заявка", "A new application"],
    reglament: ["Регламент", "Регламент", "Reglament"],
    channel: ["Арна", "Канал", "Channel"],
    "case": ["Жағдай", "Сценарий", "Case"],
    playCase: ["Іске қосу", "Запустить", "Play this case"],
    auditorOnly: ["Аудитор токені: өтінішті тек әкімші іске қоса алады.",
                  "Токен аудитора: запускать заявки может только администратор.",
                  "An auditor's token: only the admin can play a case."],
    inWorld: ["Әлемдегі өтініштер", "Заявки в мире", "Applications in this world"],
    application: ["Өтініш", "Заявка", "Application"],
    open: ["Ашу", "Открыть", "Open"],
    refresh: ["Жаңарту", "Обновить", "Refresh"],
    follow: ["Тікелей бақылау", "Следить вживую", "Follow live"],
    noApplications: ["Әзірге өтініш жоқ", "Заявок пока нет", "No applications yet"],
    loading: ["Жүктелуде…", "Загрузка…", "Loading…"],
    playing: ["Өтініш ойнатылуда…", "Заявка проигрывается…", "Playing the case…"],
    played: ["Дайын: {outcome}", "Готово: {outcome}", "Done: {outcome}"],
    playFailed: ["Ойнату сәтсіз: {msg}", "Воспроизведение не удалось: {msg}", "The play failed: {msg}"],
    live: ["Тікелей: жаңа қадамдар келгенде көрсетіледі", "Вживую: новые шаги появляются по мере прихода",
           "Live: new steps appear as they come"],
    liveEnded: ["Өтініш аяқталды: {outcome}", "Заявка завершена: {outcome}", "The application ended: {outcome}"],
    error: ["Қате: {msg}", "Ошибка: {msg}", "Error: {msg}"],
    unreachable: ["Сервер жауап бермеді", "Сервер не ответил", "The server did not answer"],
    first: ["Басына", "В начало", "First"],
    back: ["Артқа", "Назад", "Back"],
    play: ["Ойнату", "Пуск", "Play"],
    pause: ["Кідірту", "Пауза", "Pause"],
    next: ["Келесі", "Далее", "Next"],
    last: ["Соңына", "В конец", "Last"],
    speed: ["Жылдамдық", "Скорость", "Speed"],
    keys: ["Пернелер: → ← келесі/артқа · Бос орын ойнату/кідірту · Home/End басы/соңы",
           "Клавиши: → ← далее/назад · Пробел пуск/пауза · Home/End начало/конец",
           "Keys: → ← next/back · Space play/pause · Home/End first/last"],
    position: ["{n}/{total} қадам", "Шаг {n} из {total}", "Step {n} of {total}"],
    stepsList: ["Қадамдар", "Шаги", "Steps"],
    diagram: ["Тізбек диаграммасы", "Диаграмма последовательности", "Sequence diagram"],
    diagramLegend: ["── сұрау · ┄┄ жауап · ✓ ЭЦҚ жарамды · ✗ ЭЦҚ жарамсыз · қою жақтау – ағымдағы қадам",
                    "── запрос · ┄┄ ответ · ✓ ЭЦП действительна · ✗ ЭЦП недействительна · жирная рамка – текущий шаг",
                    "── request · ┄┄ response · ✓ signature valid · ✗ signature not valid · bold frame – the current step"],
    timeline: ["Виртуалды сағат", "Виртуальные часы", "Virtual clock"],
    timelineLegend: ["Жолақтар – қызметкер рәсімдері (ұзақтығымен); көлеңке – түнгі уақыт, қою көлеңке – демалыс күндері",
                     "Полосы – процедуры сотрудников (с длительностью); тень – ночь, тёмная тень – выходные",
                     "Bars: staff procedures (with their durations); shade: nights, dark shade: weekends"],
    flowMeta: ["{channel} · өтініш {id} · {start} – {end} · нәтиже: {outcome}",
               "{channel} · заявка {id} · {start} – {end} · итог: {outcome}",
               "{channel} · application {id} · {start} – {end} · outcome: {outcome}"],
    textKk: ["Регламент мәтіні (қазақша)", "Текст регламента (на казахском)", "The reglament's text (Kazakh)"],
    names: ["Атауы", "Название", "Name"],
    system: ["Жүйе", "Система", "System"],
    actor: ["Орындаушы", "Исполнитель", "Actor"],
    duration: ["Ұзақтығы", "Длительность", "Duration"],
    hours: ["Жұмыс уақыты", "Рабочее время", "Working hours"],
    at: ["Виртуалды уақыт", "Виртуальное время", "Virtual time"],
    outcome: ["Нәтиже", "Результат", "Outcome"],
    detail: ["Жүйе жазбасы", "Запись системы", "What the system recorded"],
    kind: ["Түрі", "Вид", "Kind"],
    documents: ["Хабарламалар мен құжаттар", "Сообщения и документы", "Messages and documents"],
    noMessages: ["Бұл қадамда шлюз хабарламасы жоқ.", "На этом шаге нет сообщений шлюза.",
                 "No gateway message in this step."],
    openAll: ["Барлық құжатты ашу", "Раскрыть все документы", "Open every document"],
    closeAll: ["Барлық құжатты жабу", "Свернуть все документы", "Close every document"],
    request: ["Сұрау", "Запрос", "Request"],
    response: ["Жауап", "Ответ", "Response"],
    noData: ["(деректер жоқ)", "(нет данных)", "(no data)"],
    route: ["Жол", "Маршрут", "Route"],
    messageStatus: ["Күйі", "Статус", "Status"],
    signatures: ["Қолтаңбалар (ЭЦҚ)", "Подписи (ЭЦП)", "Signatures"],
    "of.request": ["сұраудың ЭЦҚ-сы (жіберуші жүйе)", "ЭЦП запроса (система-отправитель)", "the request's signature (sending system)"],
    "of.response": ["жауаптың ЭЦҚ-сы (жауап берген жүйе)", "ЭЦП ответа (отвечающая система)", "the response's signature (answering system)"],
    "of.document": ["құжаттың ЭЦҚ-сы", "ЭЦП документа", "the document's signature"],
    signer: ["Қол қойған", "Подписант", "Signer"],
    subject: ["Куәлік иесі", "Владелец сертификата", "Certificate subject"],
    issuer: ["Куәлікті берген", "Издатель", "Issuer"],
    serial: ["Сериялық нөмірі", "Серийный номер", "Serial"],
    validity: ["Жарамдылық мерзімі", "Срок действия", "Validity"],
    chain: ["Сенім тізбегі", "Цепочка доверия", "Chain"],
    verdict: ["Тексеру нәтижесі", "Результат проверки", "Verdict"],
    revocation: ["Кері қайтарып алу (НУЦ)", "Отзыв (НУЦ)", "Revocation (НУЦ)"],
    "rev.good": ["кері қайтарылмаған", "не отозван", "not revoked"],
    "rev.revoked": ["кері қайтарылған", "отозван", "revoked"],
    "rev.unknown": ["белгісіз", "неизвестно", "unknown"],
    "rev.atTheTime": ["хабарлама жіберілген кезде: {state}", "на момент сообщения: {state}", "when the message travelled: {state}"],
    "rev.now": ["қазір: {state}", "сейчас: {state}", "now: {state}"],
    iin: ["ЖСН", "ИИН", "IIN"],
    bin: ["БСН", "БИН", "BIN"],
    organisation: ["Ұйым", "Организация", "Organisation"],
    "rev.since": ["{at} бастап, себебі: {reason}", "с {at}, причина: {reason}", "since {at}, reason: {reason}"],
    "kind.process": ["процесс", "процесс", "process"],
    "kind.condition": ["шарт", "условие", "condition"],
    "kind.action": ["қызметкер рәсімі", "процедура сотрудника", "staff procedure"],
    "outcome.approved": ["мақұлданды", "одобрено", "approved"],
    "outcome.refused": ["бас тартылды", "отказано", "refused"],
    "outcome.rejected": ["қабылданбады", "отклонено", "rejected"],
    "outcome.decided": ["шешім қабылданды", "решение принято", "decided"],
    "outcome.in-progress": ["орындалуда", "в работе", "in progress"],
    "outcome.done": ["орындалды", "выполнено", "done"],
    "outcome.true": ["иә", "да", "yes"],
    "outcome.false": ["жоқ", "нет", "no"],
    "role.admin": ["әкімші", "администратор", "admin"],
    "role.auditor": ["аудитор", "аудитор", "auditor"],
    night: ["түн", "ночь", "night"],
    weekend: ["демалыс", "выходной", "weekend"],
    current: ["ағымдағы қадам", "текущий шаг", "current step"],
    channelFirst: ["{channel} ({first})", "{channel} ({first})", "{channel} ({first})"],
    noFlow: ["Өтінішті таңдаңыз не іске қосыңыз.", "Выберите или запустите заявку.", "Choose or play an application."],
    badFlow: ["Бұл файлда өтініш ағымы жоқ.", "В этом файле нет потока заявки.", "This file holds no application flow."]
  };
  var WEEKDAYS = {
    kk: ["жс", "дс", "сс", "ср", "бс", "жм", "сб"],
    ru: ["вс", "пн", "вт", "ср", "чт", "пт", "сб"],
    en: ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
  };

  // ---- state ---------------------------------------------------------------------------------
  var state = {
    lang: "kk",
    projector: false,
    flow: null,
    index: 0,
    playing: false,
    timer: null,
    offline: false,
    token: null,
    role: null,
    catalogue: null,
    applications: [],
    follow: false,
    followTimer: null,
    followId: null,
    playPoll: null,
    status: null // [key, params] of the status line, re-rendered on a language switch
  };

  function $(id) { return document.getElementById(id); }

  function t(key, params) {
    var row = T[key];
    var text = row ? row[LANGS.indexOf(state.lang)] || row[0] : key;
    if (params) {
      Object.keys(params).forEach(function (name) { text = text.split("{" + name + "}").join(String(params[name])); });
    }
    return text;
  }

  function tr(value) {
    // one of the document's {kk, ru, en} texts in the chosen language
    if (value == null) return "";
    if (typeof value === "string") return value;
    return value[state.lang] || value.kk || value.ru || value.en || "";
  }

  function outcomeText(code) {
    return T["outcome." + code] ? t("outcome." + code) : String(code);
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (name) {
        var value = attrs[name];
        if (value == null || value === false) return;
        if (name === "text") node.textContent = value;
        else if (name === "className") node.className = value;
        else node.setAttribute(name, value === true ? "" : value);
      });
    }
    (children || []).forEach(function (child) {
      if (child == null) return;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function svg(tag, attrs, text) {
    var node = document.createElementNS(SVGNS, tag);
    Object.keys(attrs || {}).forEach(function (name) {
      if (attrs[name] != null) node.setAttribute(name, attrs[name]);
    });
    if (text != null) node.textContent = text;
    return node;
  }

  function store(kind, key, value) {
    try {
      var storage = kind === "session" ? window.sessionStorage : window.localStorage;
      if (value == null) storage.removeItem(key); else storage.setItem(key, value);
    } catch (e) { /* storage refused (file://, privacy settings): keep it in memory only */ }
  }

  function stored(kind, key) {
    try {
      return (kind === "session" ? window.sessionStorage : window.localStorage).getItem(key);
    } catch (e) { return null; }
  }

  // ---- virtual time ----------------------------------------------------------------------------
  // The document's times are ISO 8601 with the local offset (+05:00). The page shows them as the
  // systems' wall clock, whatever the browser's own time zone: "wall" milliseconds are the local
  // date and time read as if UTC.
  function wall(iso) {
    var m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)(?::(\d\d))?/.exec(iso || "");
    if (!m) return NaN;
    return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0));
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function formatWall(ms, withYear) {
    if (isNaN(ms)) return "";
    var d = new Date(ms);
    var date = pad(d.getUTCDate()) + "." + pad(d.getUTCMonth() + 1) + (withYear ? "." + d.getUTCFullYear() : "");
    return WEEKDAYS[state.lang][d.getUTCDay()] + " " + date + " " + pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes());
  }

  function when(iso, withYear) { return formatWall(wall(iso), withYear !== false); }

  // ---- the flow ------------------------------------------------------------------------------
  function messageStep(flow, message) {
    // the step a message belongs to: the document's placement, else the last step at or before it
    if (message.step != null && flow.steps[message.step]) return message.step;
    var at = wall(message.at), chosen = 0;
    flow.steps.forEach(function (step, i) { if (wall(step.at) <= at) chosen = i; });
    return chosen;
  }

  function validFlow(flow) {
    return flow && typeof flow === "object" && Array.isArray(flow.steps) && Array.isArray(flow.messages) &&
      Array.isArray(flow.participants);
  }

  function showFlow(flow, keepPosition) {
    if (!validFlow(flow)) { setStatus("badFlow"); return; }
    var wasAtEnd = state.flow && state.index >= state.flow.steps.length - 1;
    var previous = state.flow && state.flow.applicationId === flow.applicationId ? state.index : null;
    state.flow = flow;
    flow.messages.forEach(function (m) { m._step = messageStep(flow, m); });
    if (keepPosition && previous != null) {
      // following a live application: stay where the trainer is, or keep up with the last step
      state.index = wasAtEnd && !state.playing ? flow.steps.length - 1 : Math.min(previous, flow.steps.length - 1);
    } else {
      state.index = 0;
      state.shownStep = null;
    }
    $("player").hidden = false;
    renderFlow();
  }

  function renderFlow() {
    var flow = state.flow;
    if (!flow) return;
    $("flow-title").textContent = tr(flow.title) || flow.reglament;
    $("flow-title").title = tr(flow.title) || flow.reglament;
    // where the application was filed: the system of its first step (the portal, the front office,
    // the provider's chancellery)
    var first = flow.steps.length ? flow.steps[0].system : null;
    var channel = tr(flow.channelTitle) || flow.channel;
    $("flow-meta").textContent = t("flowMeta", {
      channel: first ? t("channelFirst", {channel: channel, first: systemTitle(first)}) : channel,
      id: flow.applicationId,
      start: when(flow.clock && flow.clock.start),
      end: when(flow.clock && flow.clock.end),
      outcome: outcomeText(flow.outcome)
    });
    $("flow-meta").setAttribute("data-outcome", flow.outcome);
    renderStrip();
    renderDiagram();
    renderTimeline();
    update();
  }

  // ---- step strip: one button per step, the labels in the trace's order -------------------------
  function renderStrip() {
    var strip = $("steps");
    strip.textContent = "";
    strip.setAttribute("aria-label", t("stepsList"));
    state.flow.steps.forEach(function (step, i) {
      var button = el("button", {type: "button", "data-index": String(i), className: "step-button kind-" + step.kind,
                                 title: tr(step.name) || step.label, text: step.label});
      button.addEventListener("click", function () { go(i); });
      strip.appendChild(el("li", null, [button]));
    });
  }

  // ---- the sequence diagram ------------------------------------------------------------------
  function geometry() {
    var s = state.projector ? 1.35 : 1;
    return {s: s, col: Math.round(132 * s), margin: Math.round(12 * s), head: Math.round(58 * s),
            stepRow: Math.round(50 * s), hopRow: Math.round(26 * s), labelRow: Math.round(30 * s),
            font: Math.round(12 * s), small: Math.round(11 * s)};
  }

  function wrapWords(text, max) {
    var words = String(text).split(/\s+/), lines = [], line = "";
    words.forEach(function (word) {
      if (line && (line + " " + word).length > max) { lines.push(line); line = word; }
      else line = line ? line + " " + word : word;
    });
    if (line) lines.push(line);
    return lines.slice(0, 3);
  }

  function verdictMark(code) { return code === "VALID" ? "✓ " + code : "✗ " + code; }

  function renderDiagram() {
    var flow = state.flow, g = geometry(), box = $("diagram");
    box.textContent = "";
    var columns = flow.participants.map(function (p) { return p.id; });
    flow.messages.forEach(function (m) {
      m.hops.forEach(function (h) {
        [h.from, h.to].forEach(function (id) { if (columns.indexOf(id) < 0) columns.push(id); });
      });
    });
    flow.steps.forEach(function (step) { if (columns.indexOf(step.system) < 0) columns.push(step.system); });
    var titleOf = {};
    flow.participants.forEach(function (p) { titleOf[p.id] = tr(p.title); });
    // the columns share the panel's width, within bounds that keep the titles readable
    var room = (box.clientWidth || 760) - g.margin * 2 - 2;
    g.col = Math.round(Math.max((state.projector ? 88 : 100) * g.s, Math.min(190 * g.s, room / columns.length)));
    function x(id) { return g.margin + g.col * columns.indexOf(id) + g.col / 2; }
    var width = g.margin * 2 + g.col * columns.length;

    // rows: each step's box on its system's lifeline, then the hops of its messages
    var rows = [], y = Math.round(14 * g.s);
    flow.steps.forEach(function (step, i) {
      rows.push({type: "step", step: step, index: i, y: y});
      y += g.stepRow;
      flow.messages.filter(function (m) { return m._step === i; }).forEach(function (m) {
        var labelledResponse = false;
        m.hops.forEach(function (hop, h) {
          var labelled = h === 0 || (hop.kind === "response" && !labelledResponse);
          if (hop.kind === "response" && !labelledResponse) labelledResponse = true;
          if (labelled) y += h === 0 ? g.labelRow : Math.round(g.labelRow * 0.55);
          rows.push({type: "hop", message: m, hop: hop, first: h === 0, firstResponse: labelled && h > 0, index: i, y: y});
          y += g.hopRow;
        });
      });
    });
    var height = y + Math.round(10 * g.s);

    // participant headers, in a sticky band of their own
    var head = svg("svg", {width: width, height: g.head, "class": "sd sd-head", role: "img",
                           "aria-label": columns.map(function (id) { return titleOf[id] || id; }).join(" · ")});
    columns.forEach(function (id) {
      var cx = x(id);
      head.appendChild(svg("rect", {x: cx - g.col / 2 + 4, y: 4, width: g.col - 8, height: g.head - 8, rx: 6,
                                    "class": "participant"}));
      var lines = wrapWords(titleOf[id] || id, Math.max(8, Math.floor((g.col - 14) / (g.font * 0.62))));
      var text = svg("text", {x: cx, y: g.head / 2 - (lines.length - 1) * g.font * 0.6 + g.font * 0.35,
                              "text-anchor": "middle", "font-size": g.font, "class": "participant-title", "data-id": id});
      lines.forEach(function (line, n) {
        text.appendChild(svg("tspan", {x: cx, dy: n ? g.font * 1.2 : 0}, line));
      });
      head.appendChild(text);
    });

    var body = svg("svg", {width: width, height: height, "class": "sd sd-body", role: "img",
                           "aria-label": t("diagram")});
    var defs = svg("defs");
    ["request", "response", "current"].forEach(function (kind) {
      var marker = svg("marker", {id: "arrow-" + kind, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7,
                                  markerHeight: 7, orient: "auto-start-reverse"});
      marker.appendChild(svg("path", {d: "M0,0 L10,5 L0,10 z", "class": "arrowhead arrowhead-" + kind}));
      defs.appendChild(marker);
    });
    body.appendChild(defs);
    columns.forEach(function (id) {
      body.appendChild(svg("line", {x1: x(id), y1: 0, x2: x(id), y2: height, "class": "lifeline"}));
    });

    rows.forEach(function (row) {
      var group = svg("g", {"class": "row", "data-step": row.index});
      if (row.type === "step") {
        var step = row.step, cx = x(step.system), w = g.col - 8, h = g.stepRow - Math.round(10 * g.s);
        group.setAttribute("class", "row step-box kind-" + step.kind + " outcome-" + step.outcome);
        group.setAttribute("data-label", step.label);
        group.appendChild(svg("rect", {x: cx - w / 2, y: row.y, width: w, height: h, rx: step.kind === "condition" ? h / 2 : 4}));
        var mark = step.kind === "condition" ? (step.outcome === "true" ? " ✓" : step.outcome === "false" ? " ✗" : "") : "";
        group.appendChild(svg("text", {x: cx, y: row.y + h * 0.42, "text-anchor": "middle", "font-size": g.font,
                                       "class": "step-label"}, step.label + mark));
        group.appendChild(svg("text", {x: cx, y: row.y + h * 0.42 + g.small * 1.25, "text-anchor": "middle",
                                       "font-size": g.small, "class": "step-time"}, when(step.at, false)));
        group.appendChild(svg("title", null, step.label + " · " + (tr(step.name) || "") + " · " + when(step.at)));
      } else {
        var hop = row.hop, m = row.message, x1 = x(hop.from), x2 = x(hop.to);
        group.setAttribute("class", "row hop hop-" + hop.kind + " status-" + (m.status || ""));
        group.setAttribute("data-message", m.index);
        group.appendChild(svg("line", {x1: x1, y1: row.y, x2: x2 + (x2 > x1 ? -2 : 2), y2: row.y,
                                       "class": "arrow arrow-" + hop.kind, "marker-end": "url(#arrow-" + hop.kind + ")"}));
        var left = Math.min(x1, x2) + 6;
        if (row.first) {
          group.appendChild(svg("text", {x: left, y: row.y - g.small * 1.35, "font-size": g.small, "class": "service"},
                                m.serviceId + (m.errorCode ? " · " + m.errorCode : "")));
          addVerdicts(group, m.signatures.filter(function (s) { return s.of !== "response"; }), left, row.y - 4, g);
        } else if (row.firstResponse) {
          addVerdicts(group, m.signatures.filter(function (s) { return s.of === "response"; }), left, row.y - 4, g);
        }
        group.appendChild(svg("title", null, m.serviceId + ": " + hop.from + " → " + hop.to + " (" +
                              t(hop.kind) + ", " + when(hop.at) + ")"));
      }
      body.appendChild(group);
    });

    var headBand = el("div", {className: "sd-head-band"});
    headBand.appendChild(head);
    box.appendChild(headBand);
    box.appendChild(body);
    state.rows = rows;
  }

  function addVerdicts(group, signatures, left, baseline, g) {
    if (!signatures.length) return;
    var text = svg("text", {x: left, y: baseline, "font-size": g.small, "class": "verdicts"});
    signatures.forEach(function (sig, n) {
      if (n) text.appendChild(svg("tspan", {"class": "sep"}, " · "));
      var prefix = sig.of === "document" ? "✎ " : "";
      text.appendChild(svg("tspan", {"class": sig.verdict === "VALID" ? "verdict-ok" : "verdict-bad",
                                     "data-verdict": sig.verdict}, prefix + verdictMark(sig.verdict)));
    });
    group.appendChild(text);
  }

  // ---- the timeline of the virtual clock -----------------------------------------------------
  function renderTimeline() {
    var flow = state.flow, box = $("timeline");
    box.textContent = "";
    var g = geometry();
    var times = flow.steps.map(function (s) { return wall(s.at); });
    var day = 86400000;
    var start = Math.floor(Math.min.apply(null, times) / day) * day;
    var end = Math.ceil((Math.max.apply(null, times) + 1) / day) * day;
    var width = Math.max(box.clientWidth || 900, 400) - 4;
    var padX = Math.round(16 * g.s);
    var scale = (width - padX * 2) / (end - start);
    function px(ms) { return padX + (ms - start) * scale; }
    var actions = flow.steps.filter(function (s) { return s.kind === "action" || s.duration; });
    var lane = Math.round(22 * g.s), top = Math.round(26 * g.s);
    var height = top + lane * (actions.length + 1) + Math.round(10 * g.s);
    var root = svg("svg", {width: width, height: height, "class": "tl", role: "img", "aria-label": t("timeline")});

    // nights and weekends, the day ticks and their dates
    var days = Math.round((end - start) / day);
    var every = Math.max(1, Math.ceil(70 * g.s / (day * scale)));
    for (var d = 0; d < days; d++) {
      var dayStart = start + d * day, weekday = new Date(dayStart).getUTCDay();
      if (weekday === 0 || weekday === 6) {
        root.appendChild(svg("rect", {x: px(dayStart), y: top - 6, width: day * scale, height: height - top, "class": "weekend"}));
      } else {
        root.appendChild(svg("rect", {x: px(dayStart), y: top - 6, width: 9 * 3600000 * scale, height: height - top, "class": "night"}));
        root.appendChild(svg("rect", {x: px(dayStart + 18 * 3600000), y: top - 6, width: 6 * 3600000 * scale,
                                      height: height - top, "class": "night"}));
      }
      root.appendChild(svg("line", {x1: px(dayStart), y1: top - 8, x2: px(dayStart), y2: height, "class": "tick"}));
      if (d % every === 0) {
        var date = new Date(dayStart);
        root.appendChild(svg("text", {x: px(dayStart) + 2, y: top - 12, "font-size": g.small, "class": "tick-label"},
                             WEEKDAYS[state.lang][weekday] + " " + pad(date.getUTCDate()) + "." + pad(date.getUTCMonth() + 1)));
      }
    }

    // staff procedures as spans: from the last step before it at an earlier time (when the case
    // reached the procedure; the steps it decides are written at its end) to its end
    actions.forEach(function (step, n) {
      var i = flow.steps.indexOf(step);
      var to = wall(step.at), from = to;
      for (var k = i - 1; k >= 0; k--) {
        if (wall(flow.steps[k].at) < to) { from = wall(flow.steps[k].at); break; }
      }
      var y = top + lane * (n + 1);
      var group = svg("g", {"class": "span", "data-step": i});
      group.appendChild(svg("rect", {x: px(from), y: y, width: Math.max(3, (to - from) * scale), height: lane - 6, rx: 3}));
      var label = step.label + (step.duration ? " · " + tr(step.duration) : "");
      // the label inside a span wide enough for it, else beside it where there is room
      var textWidth = label.length * g.small * 0.62 + 8, spanWidth = (to - from) * scale;
      var tx = px(from) + spanWidth + 4, anchor = "start";
      if (spanWidth > textWidth) { tx = px(from) + 4; }
      else if (tx + textWidth > width && px(from) - textWidth > 0) { tx = px(from) - 4; anchor = "end"; }
      else if (tx + textWidth > width) { tx = width - 2; anchor = "end"; }
      group.appendChild(svg("text", {x: tx, y: y + lane * 0.55, "font-size": g.small, "text-anchor": anchor}, label));
      group.appendChild(svg("title", null, label + (step.hours ? " · " + tr(step.hours) : "")));
      root.appendChild(group);
    });

    // every step as a point on the first lane
    flow.steps.forEach(function (step, i) {
      var group = svg("g", {"class": "point kind-" + step.kind, "data-step": i});
      group.appendChild(svg("circle", {cx: px(wall(step.at)), cy: top + lane * 0.35, r: Math.round(4 * g.s)}));
      group.appendChild(svg("title", null, step.label + " · " + when(step.at)));
      root.appendChild(group);
    });
    var cursor = svg("g", {"class": "cursor"});
    cursor.appendChild(svg("line", {x1: 0, y1: top - 8, x2: 0, y2: height, "class": "cursor-line"}));
    cursor.appendChild(svg("text", {x: 0, y: height - 4, "font-size": g.small, "class": "cursor-label"}, ""));
    root.appendChild(cursor);
    state.timeline = {px: px, width: width, cursor: cursor};
    box.appendChild(root);
  }

  // ---- the current step ----------------------------------------------------------------------
  function update() {
    var flow = state.flow;
    if (!flow) return;
    var n = flow.steps.length, i = state.index, step = flow.steps[i];
    $("position").textContent = t("position", {n: i + 1, total: n});
    $("first").disabled = $("back").disabled = i === 0;
    $("next").disabled = $("last").disabled = i >= n - 1;
    Array.prototype.forEach.call($("steps").querySelectorAll("button"), function (button) {
      var k = +button.getAttribute("data-index");
      if (k === i) button.setAttribute("aria-current", "step"); else button.removeAttribute("aria-current");
      button.classList.toggle("future", k > i);
    });
    var current = null;
    Array.prototype.forEach.call(document.querySelectorAll("#diagram [data-step], #timeline [data-step]"), function (node) {
      var k = +node.getAttribute("data-step");
      node.classList.toggle("current", k === i);
      node.classList.toggle("future", k > i);
      node.classList.toggle("past", k < i);
      if (k === i && !current && node.closest("#diagram") && node.classList.contains("step-box")) current = node;
    });
    if (current) scrollDiagramTo(current);
    var tl = state.timeline;
    if (tl) {
      var xc = tl.px(wall(step.at));
      tl.cursor.setAttribute("transform", "translate(" + xc + ",0)");
      var label = tl.cursor.querySelector("text");
      label.textContent = step.label + " · " + when(step.at);
      label.setAttribute("text-anchor", xc > tl.width * 0.7 ? "end" : "start");
      label.setAttribute("x", xc > tl.width * 0.7 ? -4 : 4);
    }
    renderStep(step);
  }

  function scrollDiagramTo(node) {
    var box = $("diagram"), rect = node.getBBox ? node.getBBox() : null;
    if (!rect) return;
    var head = box.querySelector(".sd-head-band");
    var top = rect.y + (head ? head.offsetHeight : 0);
    box.scrollTop = Math.max(0, top - box.clientHeight / 3);
    var left = rect.x + rect.width / 2 - box.clientWidth / 2;
    box.scrollLeft = Math.max(0, left);
  }

  function row(dl, key, value, attrs) {
    if (value == null || value === "") return;
    dl.appendChild(el("dt", {text: t(key)}));
    dl.appendChild(el("dd", attrs || null, [value]));
  }

  function systemTitle(id) {
    var found = state.flow.participants.filter(function (p) { return p.id === id; })[0];
    return found ? tr(found.title) : id;
  }

  function renderStep(step) {
    $("step-title").textContent = step.label + (step.name ? " · " + tr(step.name) : "");
    var box = $("step");
    // the same step shown again (another language, projector, a live update): its documents stay
    // open as the trainer left them
    var open = {};
    if (state.shownStep === state.index) {
      Array.prototype.forEach.call(box.querySelectorAll("details[data-key]"), function (d) {
        if (d.open) open[d.getAttribute("data-key")] = true;
      });
    }
    state.shownStep = state.index;
    box.textContent = "";
    if (step.textKk) {
      box.appendChild(el("h4", {text: t("textKk")}));
      box.appendChild(el("blockquote", {lang: "kk", className: "text-kk", text: step.textKk}));
    }
    var dl = el("dl", {className: "facts"});
    if (step.name) {
      var names = el("ul", {className: "names"});
      LANGS.forEach(function (lang) {
        names.appendChild(el("li", {lang: lang}, [el("span", {className: "lang-tag", text: lang}), " " + step.name[lang]]));
      });
      row(dl, "names", names);
    }
    row(dl, "kind", t("kind." + step.kind));
    row(dl, "system", systemTitle(step.system));
    row(dl, "at", when(step.at));
    if (step.actor) row(dl, "actor", tr(step.actor));
    if (step.duration) row(dl, "duration", tr(step.duration));
    if (step.hours) row(dl, "hours", tr(step.hours));
    row(dl, "outcome", outcomeText(step.outcome), {"data-outcome": step.outcome});
    row(dl, "detail", step.detail, {lang: "kk"});
    box.appendChild(dl);

    var messages = state.flow.messages.filter(function (m) { return m._step === state.index; });
    var head = el("div", {className: "documents-head"}, [el("h4", {text: t("documents")})]);
    box.appendChild(head);
    if (!messages.length) {
      box.appendChild(el("p", {className: "hint", text: t("noMessages")}));
      return;
    }
    var toggle = el("button", {type: "button", id: "open-documents", text: t("openAll")});
    toggle.addEventListener("click", function () {
      var all = box.querySelectorAll("details");
      var open = Array.prototype.some.call(all, function (d) { return !d.open; });
      Array.prototype.forEach.call(all, function (d) { d.open = open; });
      toggle.textContent = t(open ? "closeAll" : "openAll");
    });
    head.appendChild(toggle);
    messages.forEach(function (m) { box.appendChild(renderMessage(m)); });
    var all = box.querySelectorAll("details[data-key]"), any = false;
    Array.prototype.forEach.call(all, function (d) {
      if (open[d.getAttribute("data-key")]) { d.open = true; any = true; }
    });
    if (any && !Array.prototype.some.call(all, function (d) { return !d.open; })) toggle.textContent = t("closeAll");
  }

  function renderMessage(m) {
    var verdicts = el("span", {className: "verdict-list"});
    m.signatures.forEach(function (sig) {
      verdicts.appendChild(el("span", {className: "badge " + (sig.verdict === "VALID" ? "ok" : "bad"),
                                       text: verdictMark(sig.verdict)}));
    });
    var summary = el("summary", null, [
      el("strong", {text: m.serviceId}), " " + systemTitle(m.sender) + " → " + systemTitle(m.recipient) + " ", verdicts
    ]);
    var details = el("details", {className: "message", "data-message": String(m.index), "data-key": "m" + m.index}, [summary]);
    var facts = el("dl", {className: "facts"});
    row(facts, "at", when(m.at));
    row(facts, "route", m.hops.filter(function (h) { return h.kind === "request"; }).map(function (h) { return h.from; })
      .concat([m.recipient]).join(" → "));
    row(facts, "messageStatus", (m.status || "") + (m.errorCode ? " · " + m.errorCode : ""));
    details.appendChild(facts);
    details.appendChild(dataBlock("request", m.request, "m" + m.index + "-request"));
    details.appendChild(dataBlock("response", m.response, "m" + m.index + "-response"));
    if (m.signatures.length) {
      details.appendChild(el("h5", {text: t("signatures")}));
      m.signatures.forEach(function (sig) { details.appendChild(renderSignature(sig)); });
    }
    return details;
  }

  function dataBlock(key, data, id) {
    var block = el("details", {className: "data", "data-key": id}, [el("summary", {text: t(key)})]);
    if (data == null || (typeof data === "object" && !Object.keys(data).length)) {
      block.appendChild(el("p", {className: "hint", text: t("noData")}));
    } else {
      block.appendChild(renderValue(data, 0));
    }
    return block;
  }

  function renderValue(value, depth) {
    if (value === null || typeof value !== "object") {
      var text = value === null ? "null" : String(value);
      if (typeof value === "string" && text.length > 96) {
        // a signature or a certificate in base64: its start and its length say enough
        return el("code", {className: "long", title: text.length + " chars"}, [text.slice(0, 64) + "… (" + text.length + ")"]);
      }
      return el("code", {className: typeof value}, [text]);
    }
    if (depth > 6) return el("code", null, [JSON.stringify(value)]);
    var table = el("table", {className: "kv"});
    var keys = Array.isArray(value) ? value.map(function (_, i) { return i; }) : Object.keys(value);
    keys.forEach(function (k) {
      table.appendChild(el("tr", null, [el("th", {scope: "row", text: Array.isArray(value) ? "[" + k + "]" : k}),
                                        el("td", null, [renderValue(value[k], depth + 1)])]));
    });
    return table;
  }

  function verdictText(sig) {  // the verdict's words in the interface's language (English as sent when absent)
    return (sig.messages && sig.messages[state.lang]) || sig.message || "";
  }

  function renderSignature(sig) {
    var ok = sig.verdict === "VALID";
    var dl = el("dl", {className: "facts signature " + (ok ? "ok" : "bad"), "data-of": sig.of});
    dl.appendChild(el("dt", {className: "sig-of", text: t("of." + sig.of)}));
    dl.appendChild(el("dd", null, [el("span", {className: "badge " + (ok ? "ok" : "bad"), text: verdictMark(sig.verdict)}),
                                   verdictText(sig) ? " " + verdictText(sig) : ""]));
    row(dl, "signer", sig.signer);
    var info = sig.signerInfo || {};
    row(dl, "iin", info.iin, {className: "mono"});
    row(dl, "organisation", info.organisation);
    row(dl, "bin", info.bin, {className: "mono"});
    if (!sig.signerInfo) row(dl, "subject", sig.subject);
    row(dl, "issuer", sig.issuer);
    row(dl, "serial", sig.serial, {className: "mono"});
    if (sig.validFrom || sig.validTo) row(dl, "validity", when(sig.validFrom) + " – " + when(sig.validTo));
    if (sig.chain && sig.chain.length) row(dl, "chain", sig.chain.join(" → "));
    var rev = sig.revocation;
    if (rev) {
      var status = T["rev." + rev.status] ? t("rev." + rev.status) : String(rev.status);
      var atTheTime = T["rev." + rev.atTheTime] ? t("rev." + rev.atTheTime) : String(rev.atTheTime);
      var text = t("rev.atTheTime", {state: atTheTime});
      if (rev.status !== rev.atTheTime) text += "; " + t("rev.now", {state: status});
      if (rev.revokedAt) text += "; " + t("rev.since", {at: when(rev.revokedAt), reason: rev.reason || "–"});
      row(dl, "revocation", text, {className: rev.atTheTime === "good" ? "ok" : "bad"});
    }
    return dl;
  }

  // ---- playback ------------------------------------------------------------------------------
  function go(i) {
    if (!state.flow) return;
    var n = state.flow.steps.length;
    state.index = Math.max(0, Math.min(n - 1, i));
    if (state.index >= n - 1 && state.playing && !following()) setPlaying(false);
    update();
  }

  function following() {
    return state.follow && state.flow && state.flow.outcome === "in-progress";
  }

  function setPlaying(on) {
    state.playing = on;
    clearTimeout(state.timer);
    var button = $("play");
    button.setAttribute("aria-pressed", on ? "true" : "false");
    button.textContent = t(on ? "pause" : "play");
    if (on) {
      if (state.flow && state.index >= state.flow.steps.length - 1 && !following()) state.index = -1;
      tick();
    }
  }

  function tick() {
    if (!state.playing || !state.flow) return;
    if (state.index < state.flow.steps.length - 1) go(state.index + 1);
    else if (!following()) { setPlaying(false); return; }
    state.timer = setTimeout(tick, BASE_INTERVAL_MS / parseFloat($("speed").value || "1"));
  }

  function onKey(event) {
    if (!state.flow || $("player").hidden || event.altKey || event.ctrlKey || event.metaKey) return;
    var target = event.target, tag = target && target.tagName;
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable)) return;
    var key = event.key;
    if (key === "ArrowRight") go(state.index + 1);
    else if (key === "ArrowLeft") go(state.index - 1);
    else if (key === "Home") go(0);
    else if (key === "End") go(state.flow.steps.length - 1);
    else if ((key === " " || key === "Spacebar") && !(tag === "BUTTON" || tag === "SUMMARY" || tag === "A")) setPlaying(!state.playing);
    else return;
    event.preventDefault();
  }

  // ---- language, projector -------------------------------------------------------------------
  function applyLanguage(lang) {
    state.lang = LANGS.indexOf(lang) >= 0 ? lang : "kk";
    document.documentElement.lang = state.lang;
    document.documentElement.setAttribute("data-lang", state.lang);
    $("lang").value = state.lang;
    document.title = "egov-sim · " + t("appTitle");
    Array.prototype.forEach.call(document.querySelectorAll("[data-i18n]"), function (node) {
      node.textContent = t(node.getAttribute("data-i18n"));
    });
    $("play").textContent = t(state.playing ? "pause" : "play");
    $("diagram-legend").textContent = t("diagramLegend");
    $("timeline-legend").textContent = t("timelineLegend");
    if (state.catalogue) fillCatalogue(true);
    fillApplications();
    renderPlayNote();
    renderStatus();
    renderFlow();
  }

  function applyProjector(on) {
    state.projector = on;
    document.body.classList.toggle("projector", on);
    $("projector").setAttribute("aria-pressed", on ? "true" : "false");
    renderFlow();
  }

  // ---- the run's API -------------------------------------------------------------------------
  function api(method, path, body) {
    if (state.offline) return Promise.reject(new Error("offline export: no API"));  // never reached: no picker
    var headers = {"Accept": "application/json"};
    if (state.token) headers[TOKEN_HEADER] = state.token;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return fetch(API + path, {method: method, headers: headers, cache: "no-store", credentials: "same-origin",
                              body: body === undefined ? undefined : JSON.stringify(body)})
      .then(function (response) {
        return response.text().then(function (text) {
          var data = null;
          try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
          if (!response.ok) {
            var error = new Error(refusalText(data) || (response.status + " " + response.statusText));
            error.status = response.status;
            error.body = data;
            throw error;
          }
          return data;
        });
      }, function () {
        var error = new Error(t("unreachable"));
        error.status = 0;
        throw error;
      });
  }

  function refusalText(data) {
    if (!data || typeof data !== "object") return "";
    var text = state.lang === "kk" ? data.message_kk : state.lang === "ru" ? data.message_ru : data.message;
    text = text || data.message || data.detail || data.error || "";
    if (typeof text !== "string") text = JSON.stringify(text);
    if (Array.isArray(data.fields) && data.fields.length) {
      text += " (" + data.fields.map(function (f) { return typeof f === "string" ? f : f.field || f.name || JSON.stringify(f); }).join(", ") + ")";
    }
    return text;
  }

  function setStatus(key, params, kind) {
    state.status = key ? [key, params || null, kind || "info"] : null;
    renderStatus();
  }

  function renderStatus() {
    var node = $("status");
    if (!state.status) { node.textContent = ""; node.className = ""; return; }
    node.textContent = t(state.status[0], state.status[1]);
    node.className = state.status[2];
  }

  function checkToken() {
    if (!state.token) {
      $("token-form").hidden = false;
      setStatus("tokenMissing");
      return Promise.resolve(false);
    }
    return api("GET", "/whoami").then(function (who) {
      state.role = who && who.role;
      $("token-form").hidden = true;
      renderPlayNote();
      setStatus("roleIs", {role: t("role." + state.role)});
      loadApplications();
      return true;
    }, function (error) {
      state.role = null;
      $("token-form").hidden = false;
      if (error.status === 401 || error.status === 403) {
        state.token = null;
        store("session", "egov-sim-token", null);
      }
      setStatus("tokenRefused", {msg: error.message}, "bad");
      renderPlayNote();
      $("token-input").focus();
      return false;
    });
  }

  function renderPlayNote() {
    if (state.offline) return;
    var note = $("play-note"), admin = state.role === "admin";
    $("play-case").disabled = !admin;
    note.hidden = state.role !== "auditor";
    note.textContent = t("auditorOnly");
  }

  function fillCatalogue(keep) {
    var catalogue = state.catalogue, reg = $("reglament");
    var chosen = keep ? reg.value : null;
    reg.textContent = "";
    catalogue.reglaments.forEach(function (r) {
      reg.appendChild(el("option", {value: r.id, text: r.id + " · " + tr(r.title)}));
    });
    if (chosen) reg.value = chosen;
    fillChannels(keep);
  }

  function fillChannels(keep) {
    var reglament = currentReglament(), box = $("channel"), chosen = keep ? box.value : null;
    box.textContent = "";
    (reglament ? reglament.channels : []).forEach(function (c) {
      var first = state.catalogue.systems ? state.catalogue.systems.filter(function (s) { return s.id === c.first; })[0] : null;
      var name = c.id + (first ? " · " + tr(first.title) : "") + (c.title ? " · " + tr(c.title) : "");
      box.appendChild(el("option", {value: c.id, text: name}));
    });
    if (chosen) box.value = chosen;
    fillCases(keep);
  }

  function fillCases(keep) {
    var reglament = currentReglament(), box = $("case"), chosen = keep ? box.value : null;
    var channel = reglament ? reglament.channels.filter(function (c) { return c.id === $("channel").value; })[0] : null;
    box.textContent = "";
    (channel ? channel.cases : []).forEach(function (name) { box.appendChild(el("option", {value: name, text: name})); });
    if (chosen) box.value = chosen;
  }

  function currentReglament() {
    var id = $("reglament").value;
    return state.catalogue ? state.catalogue.reglaments.filter(function (r) { return r.id === id; })[0] : null;
  }

  function loadCatalogue() {
    return api("GET", "/catalogue").then(function (catalogue) {
      state.catalogue = catalogue;
      fillCatalogue(false);
    }, function (error) { setStatus("error", {msg: error.message}, "bad"); });
  }

  function loadApplications() {
    return api("GET", "/applications?limit=50").then(function (answer) {
      state.applications = (answer && answer.applications) || [];
      fillApplications();
    }, function (error) { setStatus("error", {msg: error.message}, "bad"); });
  }

  function fillApplications() {
    if (state.offline) return;
    var box = $("applications"), chosen = box.value;
    box.textContent = "";
    if (!state.applications.length) {
      box.appendChild(el("option", {value: "", text: t("noApplications")}));
    }
    state.applications.forEach(function (a) {
      box.appendChild(el("option", {value: a.applicationId,
        text: when(a.lastAt || a.startedAt) + " · " + a.reglament + " / " + a.channel + " · " + (a.lastLabel || "") +
              " (" + a.steps + ") · " + a.applicationId.slice(0, 8)}));
    });
    if (chosen) box.value = chosen;
    $("open-application").disabled = !state.applications.length;
  }

  function openApplication(id, live) {
    if (!id) return Promise.resolve();
    setStatus("loading");
    return api("GET", "/flow/" + encodeURIComponent(id)).then(function (flow) {
      var same = state.flow && state.flow.applicationId === id;
      showFlow(flow, same && live);
      if (flow.outcome === "in-progress" && state.follow) {
        setStatus("live");
        scheduleFollow(id);
      } else if (state.follow && same) {
        setStatus("liveEnded", {outcome: outcomeText(flow.outcome)});
      } else {
        state.status = null;
        renderStatus();
      }
    }, function (error) {
      setStatus("error", {msg: error.message}, "bad");
    });
  }

  function scheduleFollow(id) {
    clearTimeout(state.followTimer);
    state.followId = id;
    state.followTimer = setTimeout(function () {
      if (state.follow && state.followId === id) openApplication(id, true);
    }, LIVE_POLL_MS);
  }

  function playCase() {
    var body = {reglament: $("reglament").value, channel: $("channel").value, "case": $("case").value};
    $("play-case").disabled = true;
    setStatus("playing");
    api("POST", "/plays", body).then(function (answer) {
      pollPlay(answer.playId, null);
    }, function (error) {
      if (error.status === 409 && error.body && error.body.playId) {
        // another play runs (another trainer's tab): show its application when it ends
        setStatus("error", {msg: error.message}, "bad");
        pollPlay(error.body.playId, null);
        return;
      }
      setStatus("playFailed", {msg: error.message}, "bad");
      renderPlayNote();
    });
  }

  function pollPlay(playId, shown) {
    api("GET", "/plays/" + encodeURIComponent(playId)).then(function (play) {
      if (play.status === "running") {
        // a live application: show its steps as they come while the play goes on
        if (play.applicationId && play.applicationId !== shown && state.follow) {
          shown = play.applicationId;
          openApplication(shown, true);
        }
        state.playPoll = setTimeout(function () { pollPlay(playId, shown); }, 500);
        return;
      }
      renderPlayNote();
      if (play.status === "done") {
        loadApplications();
        openApplication(play.applicationId, play.applicationId === shown).then(function () {
          setStatus("played", {outcome: outcomeText(play.outcome)}, "ok");
          if (play.applicationId !== shown) $("transport").focus();
        });
      } else {
        setStatus("playFailed", {msg: play.error || play.status}, "bad");
      }
    }, function (error) {
      renderPlayNote();
      setStatus("playFailed", {msg: error.message}, "bad");
    });
  }

  // ---- start ---------------------------------------------------------------------------------
  function readToken() {
    var hash = window.location.hash || "";
    var m = /(?:^#|&)token=([^&]+)/.exec(hash);
    if (m) {
      var token = null;
      try { token = decodeURIComponent(m[1]); } catch (e) { token = null; }  // not URL-encoded: asked for instead
      if (token) store("session", "egov-sim-token", token);
      // the token leaves the address bar (and the history) at once
      var rest = hash.replace(/(^#|&)token=[^&]+/, "$1").replace(/^#&/, "#").replace(/&$/, "");
      history.replaceState(null, "", window.location.pathname + window.location.search + (rest === "#" ? "" : rest));
    }
    return stored("session", "egov-sim-token");
  }

  function wire() {
    $("lang").addEventListener("change", function () {
      store("local", "egov-sim-lang", this.value);
      applyLanguage(this.value);
    });
    $("projector").addEventListener("click", function () { applyProjector(!state.projector); });
    $("first").addEventListener("click", function () { go(0); });
    $("back").addEventListener("click", function () { go(state.index - 1); });
    $("next").addEventListener("click", function () { go(state.index + 1); });
    $("last").addEventListener("click", function () { go(state.flow ? state.flow.steps.length - 1 : 0); });
    $("play").addEventListener("click", function () { setPlaying(!state.playing); });
    $("speed").addEventListener("change", function () { if (state.playing) { clearTimeout(state.timer); tick(); } });
    document.addEventListener("keydown", onKey);
    var resizing = null;
    window.addEventListener("resize", function () {
      clearTimeout(resizing);
      resizing = setTimeout(function () { if (state.flow) { renderTimeline(); update(); } }, 150);
    });
  }

  function wireServer() {
    $("token-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var token = $("token-input").value.trim();
      if (!token) return;
      state.token = token;
      store("session", "egov-sim-token", token);
      $("token-input").value = "";
      checkToken();
    });
    $("reglament").addEventListener("change", function () { fillChannels(false); });
    $("channel").addEventListener("change", function () { fillCases(false); });
    $("play-case").addEventListener("click", playCase);
    $("open-application").addEventListener("click", function () {
      openApplication($("applications").value, false).then(function () { $("transport").focus(); });
    });
    $("refresh-applications").addEventListener("click", loadApplications);
    $("follow").addEventListener("click", function () {
      state.follow = !state.follow;
      this.setAttribute("aria-pressed", state.follow ? "true" : "false");
      clearTimeout(state.followTimer);
      if (state.follow && state.flow && state.flow.outcome === "in-progress") {
        openApplication(state.flow.applicationId, true);
      } else if (state.follow && $("applications").value) {
        openApplication($("applications").value, false);
      }
    });
  }

  function start() {
    wire();
    var initial = document.documentElement.getAttribute("data-lang") || "kk";
    var embedded = $("egov-flow");
    if (embedded) {
      // the offline export: one flow, no API, no picker
      state.offline = true;
      applyLanguage(initial);
      var flow = null;
      try { flow = JSON.parse(embedded.textContent); } catch (e) { flow = null; }
      $("source").hidden = false;
      $("token-form").hidden = true;
      document.querySelector("#source .pickers").hidden = true;
      if (!validFlow(flow)) { setStatus("badFlow", null, "bad"); return; }
      $("source").hidden = true;
      showFlow(flow, false);
      return;
    }
    applyLanguage(stored("local", "egov-sim-lang") || initial);
    $("source").hidden = false;
    wireServer();
    state.token = readToken();
    setStatus("noFlow");
    loadCatalogue();
    checkToken();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
