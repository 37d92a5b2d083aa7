package org.wrpn.choose;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.wrpn.BadInputException;
import org.wrpn.train.AtomicFiles;

/**
 * What a choose has decided so far, in OUT/choose-state.json: each round's proxy length and
 * candidates once it starts, and the time spent. A round's length depends on measured speeds, so a
 * resumed choose must read it back rather than compute it again: the same proxy runs are then the
 * same cells, and finished ones are not retrained. Which candidates go on is not stored: it follows
 * from the finished runs.
 */
final class ChooseState {
    static final String FILE = "choose-state.json";
    private static final ObjectMapper JSON = new ObjectMapper();

    /** A round as decided when it started; seconds is the wall time spent on it so far. */
    record Round(int number, long images, int epochs, int limitTrain, List<String> candidates, double seconds) {}

    private final Path file;
    private final ObjectNode identity;
    private final List<Round> rounds = new ArrayList<>();
    private double spentSeconds;
    /** The machine's load while runs trained, over every process of this choose: see {@link #load}. */
    private final ObjectNode load = JSON.createObjectNode();

    private ChooseState(Path file, ObjectNode identity) {
        this.file = file;
        try { // as it reads back from the file (an int and a long of one value are different nodes)
            this.identity = (ObjectNode) JSON.readTree(identity.toString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The state in dir, or a fresh one; refuses a state written for other settings. */
    static ChooseState open(Path dir, ObjectNode identity) {
        ChooseState s = new ChooseState(dir.resolve(FILE), identity);
        if (!Files.exists(s.file)) return s;
        JsonNode n;
        try {
            n = JSON.readTree(Files.readString(s.file));
        } catch (IOException e) {
            throw new BadInputException(s.file + " cannot be read (" + e.getMessage().lines().findFirst().orElse("") + ");"
                    + " delete it to start this choose over");
        }
        JsonNode theirs = n.path("identity");
        for (Map.Entry<String, JsonNode> e : s.identity.properties()) {
            JsonNode t = theirs.get(e.getKey());
            if (!e.getValue().equals(t)) {
                throw new BadInputException(dir + " holds a choose with other settings (" + e.getKey() + " is " + t + " there and "
                        + e.getValue() + " here); use another --out, or the same settings to continue it");
            }
        }
        s.spentSeconds = n.path("spent_seconds").asDouble();
        if (n.path("load").isObject()) s.load.setAll((ObjectNode) n.get("load"));
        for (JsonNode r : n.path("rounds")) {
            List<String> names = new ArrayList<>();
            r.path("candidates").forEach(c -> names.add(c.asText()));
            s.rounds.add(new Round(r.path("round").asInt(), r.path("images").asLong(), r.path("epochs").asInt(),
                    r.path("limit_train").asInt(), List.copyOf(names), r.path("seconds").asDouble()));
        }
        return s;
    }

    /** The round of this number, or null when it has not started. */
    synchronized Round round(int number) {
        for (Round r : rounds) if (r.number() == number) return r;
        return null;
    }

    synchronized double spentSeconds() {
        return spentSeconds;
    }

    synchronized void start(Round r) {
        if (round(r.number()) != null) throw new IllegalStateException("round " + r.number() + " has started already");
        rounds.add(r);
        save();
    }

    /** Adds wall time spent on a round (while it runs, and when it ends or is stopped). */
    synchronized void spent(int round, double seconds) {
        spentSeconds += seconds;
        for (int i = 0; i < rounds.size(); i++) {
            Round r = rounds.get(i);
            if (r.number() == round) {
                rounds.set(i, new Round(r.number(), r.images(), r.epochs(), r.limitTrain(), r.candidates(), r.seconds() + seconds));
            }
        }
        save();
    }

    /**
     * Adds a stretch of training to the load record: the cores other processes kept busy (averaged
     * over all stretches by their wall time), the load average when the first began and the last ended.
     */
    synchronized void load(Map<String, Object> contention) {
        double wall = ((Number) contention.get("wall_seconds")).doubleValue();
        double busy = ((Number) contention.get("other_processes_avg_cores_busy")).doubleValue();
        double seconds = load.path("wall_seconds").asDouble() + wall;
        double busySeconds = load.path("other_core_seconds").asDouble() + Math.max(0, busy) * wall;
        load.put("cores", ((Number) contention.get("cores")).intValue());
        load.put("other_processes_avg_cores_busy", seconds > 0 ? Math.round(busySeconds / seconds * 100) / 100.0 : 0);
        if (!load.has("load_average_1m_start")) load.put("load_average_1m_start", ((Number) contention.get("load_average_1m_start")).doubleValue());
        load.put("load_average_1m_end", ((Number) contention.get("load_average_1m_end")).doubleValue());
        load.put("wall_seconds", seconds);
        load.put("other_core_seconds", busySeconds);
        save();
    }

    /** The load record as the report shows it (empty before anything trained). */
    synchronized Map<String, Object> load() {
        return JSON.convertValue(load, new com.fasterxml.jackson.core.type.TypeReference<java.util.LinkedHashMap<String, Object>>() {});
    }

    private void save() {
        ObjectNode o = JSON.createObjectNode();
        o.set("identity", identity);
        o.put("spent_seconds", spentSeconds);
        o.set("load", load);
        ArrayNode a = o.putArray("rounds");
        for (Round r : rounds) {
            ObjectNode e = a.addObject();
            e.put("round", r.number());
            e.put("images", r.images());
            e.put("epochs", r.epochs());
            e.put("limit_train", r.limitTrain());
            r.candidates().forEach(e.putArray("candidates")::add);
            e.put("seconds", r.seconds());
        }
        try {
            Files.createDirectories(file.getParent());
            AtomicFiles.writeString(file, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(o) + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
