package org.wrpn;

import java.util.Locale;

/** An enum setting spelled as its name in lower case, on the command line and in JSON (--device cpu, "save": "packed"). */
public interface FlagEnum {
    String name();

    /** The spelling on the command line and in JSON. */
    default String flag() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The constant of type spelled s; another spelling is refused with the message {@code refusal + s}. */
    static <E extends Enum<E> & FlagEnum> E parse(Class<E> type, String s, String refusal) {
        for (E e : type.getEnumConstants()) if (e.flag().equals(s)) return e;
        throw new BadInputException(refusal + s);
    }
}
