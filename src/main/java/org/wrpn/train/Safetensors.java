package org.wrpn.train;

import com.fasterxml.jackson.core.JsonEncoding;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SequencedMap;
import java.util.Set;
import org.wrpn.BadInputException;
import org.wrpn.train.NamedArray.Dtype;

/**
 * Hugging Face safetensors files: u64 LE header length N, N bytes of UTF-8 JSON header (padded with
 * spaces so the data starts 8-byte aligned), then the little-endian data buffer with the tensors
 * laid out contiguously. Reading validates everything before returning anything.
 */
public final class Safetensors {
    /** The reference implementation's limit. */
    public static final long MAX_HEADER_BYTES = 100_000_000L;

    static final String METADATA_KEY = "__metadata__";
    static final Set<String> TENSOR_FIELDS = Set.of("dtype", "shape", "data_offsets");
    static final int MAX_ARRAY_LENGTH = Integer.MAX_VALUE - 8;
    static final int CHUNK_BYTES = 1 << 20;
    static final ObjectMapper JSON = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .disable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    private Safetensors() {}

    /** A whole file: tensors in header order and the string metadata (empty if absent). */
    public record Contents(Path file, SequencedMap<String, NamedArray> tensors, Map<String, String> metadata) {
        public Contents {
            tensors = Collections.unmodifiableSequencedMap(new LinkedHashMap<>(tensors));
            metadata = Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
        }

        /** The named tensor; BadInputException naming the file if it is missing. */
        public NamedArray tensor(String name) {
            NamedArray t = tensors.get(name);
            if (t == null) throw new BadInputException(file + ": no tensor " + quote(name));
            return t;
        }

        /** The named tensor, which must have this dtype and shape; BadInputException otherwise. */
        public NamedArray expect(String name, Dtype dtype, int... shape) {
            NamedArray t = tensor(name);
            if (t.dtype() != dtype || !Arrays.equals(t.shape(), shape)) {
                throw new BadInputException(file + ": tensor " + quote(name) + " is " + t.dtype()
                        + Arrays.toString(t.shape()) + ", expected " + dtype + Arrays.toString(shape));
            }
            return t;
        }

        public float[] floats(String name) {
            return ofType(name, Dtype.F32).floats();
        }

        public int[] ints(String name) {
            return ofType(name, Dtype.I32).ints();
        }

        public long[] longs(String name) {
            return ofType(name, Dtype.I64).longs();
        }

        private NamedArray ofType(String name, Dtype dtype) {
            NamedArray t = tensor(name);
            if (t.dtype() != dtype) {
                throw new BadInputException(file + ": tensor " + quote(name) + " is " + t.dtype() + ", expected " + dtype);
            }
            return t;
        }
    }

    /** Writes {@code tensors} in list order; names must be distinct. */
    public static void write(Path file, List<NamedArray> tensors, Map<String, String> metadata) throws IOException {
        LinkedHashMap<String, NamedArray> byName = new LinkedHashMap<>();
        for (NamedArray t : tensors) {
            if (byName.putIfAbsent(t.name(), t) != null) {
                throw new IllegalArgumentException("duplicate tensor name " + quote(t.name()));
            }
        }
        write(file, byName, metadata);
    }

    /**
     * Atomically writes {@code tensors} (map order = header and data order; each key must equal its
     * tensor's name) and {@code metadata} (may be null or empty: then no "__metadata__" entry).
     */
    public static void write(Path file, Map<String, NamedArray> tensors, Map<String, String> metadata)
            throws IOException {
        byte[] header = header(tensors, metadata == null ? Map.of() : metadata);
        AtomicFiles.write(file, out -> {
            ByteBuffer buffer = ByteBuffer.allocate(CHUNK_BYTES).order(ByteOrder.LITTLE_ENDIAN);
            buffer.putLong(header.length);
            out.write(buffer.array(), 0, 8);
            out.write(header);
            for (NamedArray t : tensors.values()) writeData(t, buffer, out);
        });
    }

    private static byte[] header(Map<String, NamedArray> tensors, Map<String, String> metadata) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (JsonGenerator g = JSON.getFactory().createGenerator(bytes, JsonEncoding.UTF8)) {
            g.writeStartObject();
            if (!metadata.isEmpty()) {
                g.writeObjectFieldStart(METADATA_KEY);
                for (Map.Entry<String, String> e : metadata.entrySet()) {
                    g.writeStringField(Objects.requireNonNull(e.getKey(), "metadata key"),
                            Objects.requireNonNull(e.getValue(), "metadata value"));
                }
                g.writeEndObject();
            }
            long offset = 0;
            for (Map.Entry<String, NamedArray> e : tensors.entrySet()) {
                NamedArray t = e.getValue();
                if (!t.name().equals(e.getKey())) {
                    throw new IllegalArgumentException("key " + quote(e.getKey()) + " holds tensor " + quote(t.name()));
                }
                if (t.name().equals(METADATA_KEY)) throw new IllegalArgumentException("reserved tensor name " + METADATA_KEY);
                g.writeObjectFieldStart(t.name());
                g.writeStringField("dtype", t.dtype().name());
                g.writeArrayFieldStart("shape");
                for (int d : t.shape()) g.writeNumber(d);
                g.writeEndArray();
                g.writeArrayFieldStart("data_offsets");
                g.writeNumber(offset);
                offset += t.byteSize();
                g.writeNumber(offset);
                g.writeEndArray();
                g.writeEndObject();
            }
            g.writeEndObject();
        }
        while (bytes.size() % 8 != 0) bytes.write(' ');
        return bytes.toByteArray();
    }

    private static void writeData(NamedArray t, ByteBuffer buffer, OutputStream out) throws IOException {
        int count = t.elementCount();
        int perChunk = CHUNK_BYTES / t.dtype().byteSize();
        for (int start = 0; start < count; start += perChunk) {
            int n = Math.min(perChunk, count - start);
            buffer.clear();
            switch (t.dtype()) {
                case F32 -> buffer.asFloatBuffer().put(t.floats(), start, n);
                case F64 -> buffer.asDoubleBuffer().put(t.doubles(), start, n);
                case I8, U8 -> buffer.put(t.bytes(), start, n);
                case I32 -> buffer.asIntBuffer().put(t.ints(), start, n);
                case I64 -> buffer.asLongBuffer().put(t.longs(), start, n);
            }
            out.write(buffer.array(), 0, n * t.dtype().byteSize());
        }
    }

    /**
     * Reads and validates a whole file. A missing, unreadable, truncated or inconsistent file raises
     * BadInputException naming the file; other I/O failures raise IOException.
     */
    public static Contents read(Path file) throws IOException {
        if (!Files.exists(file)) throw new BadInputException(file + ": no such file");
        if (!Files.isRegularFile(file)) throw new BadInputException(file + ": not a regular file");
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            return new SafetensorsReader(file, channel).read();
        } catch (NoSuchFileException e) {
            throw new BadInputException(file + ": no such file", e);
        } catch (AccessDeniedException e) {
            throw new BadInputException(file + ": permission denied", e);
        }
    }

    static String quote(String s) {
        return "'" + oneLine(abbreviate(s)) + "'";
    }

    static String abbreviate(String s) {
        return s.length() <= 80 ? s : s.substring(0, 77) + "...";
    }

    static String oneLine(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            b.append(Character.isISOControl(c) ? ' ' : c);
        }
        return b.toString();
    }
}
