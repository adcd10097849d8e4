() => {
  // The page's own behaviour, installed once when the page loads (launch(js=...)):
  // keyboard shortcuts for presenters, the dark/light look kept across reloads, and karaoke words.
  if (window.__playgroundPage) return;
  window.__playgroundPage = true;

  const shown = (el) => !!el && el.offsetParent !== null && !el.disabled;

  // Ctrl+Enter (or Cmd+Enter) runs the main action nearest the focus: the box being typed in belongs to a
  // tab or a compare panel, and that part's primary button runs. Esc presses the Stop buttons in view.
  const mainAction = () => {
    for (let el = document.activeElement; el && el !== document.body; el = el.parentElement) {
      const button = [...el.querySelectorAll("button.primary")].find(shown);
      if (button) return button;
    }
    return [...document.querySelectorAll("button.primary")].find(shown);
  };
  document.addEventListener(
    "keydown",
    (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        const button = mainAction();
        if (button) {
          event.preventDefault();
          event.stopPropagation();
          button.click();
        }
      } else if (event.key === "Escape") {
        // only the Stop buttons (the red "Delete this run" in History shares their look)
        const stops = [...document.querySelectorAll("button.stop")].filter((b) => shown(b) && b.textContent.trim() === "Stop");
        stops.forEach((b) => b.click());
        if (stops.length) event.preventDefault();
      }
    },
    true,
  );

  // Dark or light, as the visitor last chose (the toggle in the header), kept in this browser.
  const KEY = "playground-theme";
  const apply = (mode) => {
    document.body.classList.toggle("dark", mode === "dark");
    document.querySelectorAll("#theme-toggle").forEach((b) => {
      b.textContent = mode === "dark" ? "☀️ Light" : "🌙 Dark";
      b.setAttribute("aria-label", mode === "dark" ? "Switch to the light look" : "Switch to the dark look");
    });
  };
  const saved = localStorage.getItem(KEY);
  const current = () => (document.body.classList.contains("dark") ? "dark" : "light");
  const sync = () => apply(saved && !window.__themeChosen ? saved : current());
  window.__themeChosen = false;
  sync();
  setTimeout(sync, 500); // the toggle button may render a moment after the page script runs
  document.addEventListener(
    "click",
    (event) => {
      if (!event.target.closest || !event.target.closest("#theme-toggle")) return;
      const next = current() === "dark" ? "light" : "dark";
      localStorage.setItem(KEY, next);
      window.__themeChosen = true;
      apply(next);
    },
    true,
  );

  // Karaoke: the word under the player's position lights up (timeupdate does not bubble: listen while capturing).
  const light = (player) => {
    const box = player.closest(".karaoke");
    if (!box) return;
    const t = player.currentTime;
    box.querySelectorAll(".word").forEach((w) => {
      const on = t >= parseFloat(w.dataset.start) && t < parseFloat(w.dataset.end) + 0.05;
      w.classList.toggle("speaking", on);
    });
  };
  for (const type of ["timeupdate", "seeked", "play", "pause", "ended"]) {
    document.addEventListener(type, (event) => event.target.matches?.(".karaoke-player") && light(event.target), true);
  }
  // timeupdate fires about 4 times a second: follow the player more closely while it plays
  const follow = () => {
    document.querySelectorAll(".karaoke-player").forEach((p) => !p.paused && light(p));
    requestAnimationFrame(follow);
  };
  requestAnimationFrame(follow);

  // Live speech: each sentence arrives as a .live-chunk (an inline WAV) and plays right after the one before,
  // gaplessly, through one AudioContext; a new run (another Talk or Speak) cuts the old one off.
  let audio = null;
  let playingRun = null;
  let nextStart = 0;
  const sources = [];
  const played = new Set();
  window.__liveAudio = { scheduled: 0, firstAt: null };
  const context = () => {
    audio = audio || new (window.AudioContext || window.webkitAudioContext)();
    if (audio.state === "suspended") audio.resume();
    return audio;
  };
  document.addEventListener("click", () => context(), true); // a click is the gesture that lets audio play
  const schedule = async (chunk) => {
    const key = chunk.dataset.run + "/" + chunk.dataset.seq;
    if (played.has(key)) return;
    played.add(key);
    const ctx = context();
    if (playingRun !== chunk.dataset.run) {
      sources.splice(0).forEach((s) => { try { s.stop(); } catch (e) {} });
      playingRun = chunk.dataset.run;
      nextStart = 0;
    }
    const bytes = Uint8Array.from(atob(chunk.dataset.src.split(",")[1]), (c) => c.charCodeAt(0));
    const buffer = await ctx.decodeAudioData(bytes.buffer);
    if (playingRun !== chunk.dataset.run) return;
    const source = ctx.createBufferSource();
    source.buffer = buffer;
    source.connect(ctx.destination);
    const at = Math.max(ctx.currentTime + 0.02, nextStart);
    source.start(at);
    nextStart = at + buffer.duration;
    sources.push(source);
    chunk.classList.add("scheduled");
    window.__liveAudio.scheduled += 1;
    if (window.__liveAudio.firstAt === null) window.__liveAudio.firstAt = performance.now();
  };
  // chunks are taken from the mutation records, so one that Gradio replaced before the observer ran still plays;
  // they are decoded and scheduled one at a time, in order
  let queue = Promise.resolve();
  const found = (node) =>
    node.nodeType !== 1 ? [] : node.matches(".live-chunk") ? [node] : [...node.querySelectorAll(".live-chunk")];
  new MutationObserver((records) => {
    const chunks = records.flatMap((r) => [...r.addedNodes].flatMap(found));
    chunks.sort((a, b) => a.dataset.seq - b.dataset.seq);
    chunks.forEach((chunk) => { queue = queue.then(() => schedule(chunk)).catch(() => {}); });
  }).observe(document.body, { childList: true, subtree: true });
  // Esc (or Stop) also silences the live voice
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape") { sources.splice(0).forEach((s) => { try { s.stop(); } catch (err) {} }); playingRun = null; }
  }, true);
  document.addEventListener("click", (e) => {
    const b = e.target.closest && e.target.closest("button.stop");
    if (b && b.textContent.trim() === "Stop") { sources.splice(0).forEach((s) => { try { s.stop(); } catch (err) {} }); playingRun = null; }
  }, true);

  // Hands free (Try it together, Talk to it): the page records the microphone itself and sends numbered quarter
  // seconds of 16-bit sound through a hidden button's event (#chain-talk-send), so none is lost or swapped on the way
  // (Gradio's streaming microphone drops a chunk that comes while the last is handled, and races its uploads).
  const mic = { stream: null, ctx: null, run: null, seq: 0, sent: 0, level: 0, error: null, timer: null };
  window.__mic = mic;
  const LISTEN_LIMIT_MS = 10 * 60 * 1000; // one hands-free session, at most (as the server's line says)
  const micButton = () => document.querySelector("#chain-talk-listen");
  const micSay = (text) => {
    const b = micButton();
    if (b) b.textContent = text;
  };
  // a chunk waits in the outbox; the hidden button's click event takes it (its js returns the click's input)
  const outbox = [];
  window.__micTake = () => outbox.shift() || "";
  const sendChunk = (samples, rate) => {
    const button = document.querySelector("#chain-talk-send");
    if (!button) return;
    const pcm = new Int16Array(samples.length);
    for (let i = 0; i < samples.length; i++) pcm[i] = Math.max(-32768, Math.min(32767, Math.round(samples[i] * 32767)));
    let binary = "";
    const bytes = new Uint8Array(pcm.buffer);
    for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    outbox.push(JSON.stringify({ run: mic.run, seq: mic.seq++, rate: rate, pcm: btoa(binary) }));
    button.click();
    mic.sent += 1;
  };
  const stopListening = () => {
    clearTimeout(mic.timer);
    if (mic.stream) mic.stream.getTracks().forEach((t) => t.stop());
    if (mic.ctx) mic.ctx.close().catch(() => {});
    mic.stream = mic.ctx = mic.run = null;
    micSay("🎙️ Start listening");
    const meter = document.querySelector("#chain-talk-level span");
    if (meter) meter.style.width = "0%";
  };
  const startListening = async () => {
    micSay("… asking for the microphone");
    try {
      mic.stream = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 },
      });
      try {
        mic.ctx = new AudioContext({ sampleRate: 16000 }); // the rate the listener wants: no resampling there
        var source = mic.ctx.createMediaStreamSource(mic.stream);
      } catch (e) {
        // some browsers cannot feed a microphone into a context at another rate: the listener resamples
        if (mic.ctx) mic.ctx.close().catch(() => {});
        mic.ctx = new AudioContext();
        var source = mic.ctx.createMediaStreamSource(mic.stream);
      }
    } catch (e) {
      mic.error = String(e);
      stopListening();
      micSay("🎙️ Start listening (the microphone could not be opened: " + (e.message || e.name) + ")");
      return;
    }
    mic.run = Math.random().toString(36).slice(2, 10);
    mic.seq = 0;
    mic.error = null;
    const rate = mic.ctx.sampleRate;
    const each = Math.round(rate / 4); // a quarter of a second
    const processor = mic.ctx.createScriptProcessor(4096, 1, 1);
    const quiet = mic.ctx.createGain();
    quiet.gain.value = 0; // the processor only runs when connected onwards; nothing is heard
    let held = new Float32Array(0);
    processor.onaudioprocess = (event) => {
      if (!mic.run) return;
      const input = event.inputBuffer.getChannelData(0);
      let peak = 0;
      for (let i = 0; i < input.length; i++) peak = Math.max(peak, Math.abs(input[i]));
      mic.level = peak;
      const meter = document.querySelector("#chain-talk-level span");
      if (meter) meter.style.width = Math.min(100, Math.round(Math.sqrt(peak) * 100)) + "%";
      const joined = new Float32Array(held.length + input.length);
      joined.set(held);
      joined.set(input, held.length);
      let start = 0;
      for (; joined.length - start >= each; start += each) sendChunk(joined.subarray(start, start + each), rate);
      held = joined.slice(start);
    };
    source.connect(processor);
    processor.connect(quiet);
    quiet.connect(mic.ctx.destination);
    micSay("⏹️ Stop listening");
    mic.timer = setTimeout(stopListening, LISTEN_LIMIT_MS);
  };
  document.addEventListener(
    "click",
    (event) => {
      if (!event.target.closest || !event.target.closest("#chain-talk-listen")) return;
      event.preventDefault();
      if (mic.run || mic.stream) stopListening();
      else startListening();
    },
    true,
  );
}
