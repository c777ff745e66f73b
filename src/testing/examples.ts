/**
 * A message as the service puts it on the queue (before decoding): what the spec's examples show,
 * with numbers where the spec has numbers. Used by the fixtures and the factory.
 */
export interface OutreachWireMessage {
  /** The outreach's id. */
  outreachId: string;
  /** When the outreach was created. */
  createdAt: string;
  /** Employee who executed the outreach. */
  employeeFirstName?: string;
  /** Employee who executed the outreach. */
  employeeLastName?: string;
  /** Employee who executed the outreach. */
  employeeEmail?: string;
  /** The Civitas application. */
  outreachSource: string;
  /** The kind of outreach. */
  outreachMedium: string;
  /** The recipients. */
  students: WireStudent[];
  /** The details. */
  outreachProperties: WireOutreachProperty[];
}

/** A student in the wire form of {@link OutreachWireMessage}. */
export interface WireStudent {
  /** A number or a string on the wire. */
  institutionPersonID: string | number;
  /** First name. */
  firstName?: string;
  /** Last name. */
  lastName?: string;
  /** Email address. */
  emailAddress?: string;
  /** Creation time. */
  createdAt?: string;
}

/** An outreach property in the wire form of {@link OutreachWireMessage}. */
export interface WireOutreachProperty {
  /** A number in the spec's examples. */
  outreachPropertyId: number | string;
  /** The outreach it belongs to. */
  outreachId: string;
  /** Its name. */
  name: string;
  /** Its value. */
  value: string;
  /** The stable id of a labelled value. */
  valueId?: string;
  /** Creation time. */
  createdAt: string;
}

/** The spec's three examples, as returned by {@link exampleOutreachMessages}. */
export interface ExampleOutreachMessages {
  /** "Illume Students Campaign Outreach Properties Example". */
  illumeStudentsCampaign: OutreachWireMessage;
  /** "Inspire for Advisors Outreach Properties Example". */
  inspireForAdvisors: OutreachWireMessage;
  /** "Inspire for Faculty Outreach Properties Example". */
  inspireForFaculty: OutreachWireMessage;
}

function property(
  outreachId: string,
  createdAt: string,
  outreachPropertyId: number,
  name: string,
  value: string,
  valueId?: string,
): WireOutreachProperty {
  return valueId === undefined
    ? { outreachPropertyId, outreachId, name, value, createdAt }
    : { outreachPropertyId, outreachId, name, value, valueId, createdAt };
}

const ILLUME_ID = '5751e799-1725-45c7-a2bd-1b40b43bd8aa';
const ILLUME_AT = '2018-06-11T19:35:15.366848';
const ADVISOR_ID = 'Oecba66b-a31c-40d9-b95c-cd6ff309d43b';
const ADVISOR_AT = '2018-06-11T19:14:34.391597';
const FACULTY_ID = '8a007dbb-23eb-4889-9afb-d7b20586ea47';
const FACULTY_AT = '2018-06-11T19:30:23.473274';

/**
 * The spec's three examples as complete messages. The outreach properties are the spec's, field
 * for field (including the advisor example's id `Oecba66b-…`, with a letter O); the envelope and
 * the students around them are our reading of the spec's words ([docs/message-model.md](../../docs/message-model.md)), with
 * the spec's sample names. Fresh objects on every call, so a test may change its copy.
 *
 * @example
 * ```ts
 * const body = JSON.stringify(exampleOutreachMessages().inspireForFaculty);
 * ```
 */
export function exampleOutreachMessages(): ExampleOutreachMessages {
  return {
    illumeStudentsCampaign: {
      outreachId: ILLUME_ID,
      createdAt: ILLUME_AT,
      employeeFirstName: 'Joe',
      employeeLastName: 'Bob',
      employeeEmail: 'joe.bob@institution.edu',
      outreachSource: 'Illume Students',
      outreachMedium: 'Campaign',
      students: [
        {
          institutionPersonID: 123567,
          firstName: 'Scarlett',
          lastName: 'Jones',
          emailAddress: 'scarlett.jones@institution.edu',
          createdAt: '2018-06-11T21:07:44.222117',
        },
      ],
      outreachProperties: [
        property(ILLUME_ID, ILLUME_AT, 18, 'isAttrition', '0'),
        property(ILLUME_ID, ILLUME_AT, 16, 'campaignName', 'Trey Sample Illume Campaign', '6260e21e-35a6-4142-96b3-f8da51a95a9c'),
        property(ILLUME_ID, ILLUME_AT, 14, 'outreachMediumResult', 'Campaign sent', 'c9a33a36-4cb0-2c42-352c-75e2911e2f27'),
        property(ILLUME_ID, ILLUME_AT, 19, 'durationInMs', '0'),
        property(ILLUME_ID, ILLUME_AT, 15, 'outreachInitiator', 'Advisor Initiated', 'edc3b021-02f8-4e52-9980-e1f5fd6b89bc'),
        property(ILLUME_ID, ILLUME_AT, 17, 'isSuccess', '1'),
      ],
    },
    inspireForAdvisors: {
      outreachId: ADVISOR_ID,
      createdAt: ADVISOR_AT,
      employeeFirstName: 'Joe',
      employeeLastName: 'Bob',
      employeeEmail: 'joe.bob@institution.edu',
      outreachSource: 'Advisor',
      outreachMedium: 'Text',
      students: [{ institutionPersonID: '123567', firstName: 'Scarlett', lastName: 'Jones', emailAddress: 'scarlett.jones@institution.edu', createdAt: ADVISOR_AT }],
      outreachProperties: [
        property(ADVISOR_ID, ADVISOR_AT, 6, 'outreachMediumResult', 'Text message sent', 'c95267ff-2718-f2d3-1cd1-38f2f2bad8da'),
        property(ADVISOR_ID, ADVISOR_AT, 8, 'isAttrition', '0'),
        property(ADVISOR_ID, ADVISOR_AT, 7, 'outreachInitiator', 'Student Initiated', 'cd77b7bf-e5a2-4368-94e1-e7c01f687b09'),
        property(ADVISOR_ID, ADVISOR_AT, 5, 'outreachRecommendation', 'Referred to Financial Aid'),
        property(ADVISOR_ID, ADVISOR_AT, 4, 'outreachTopic', 'Academic'),
        property(ADVISOR_ID, ADVISOR_AT, 9, 'outreachReason', 'Student Hold'),
      ],
    },
    inspireForFaculty: {
      outreachId: FACULTY_ID,
      createdAt: FACULTY_AT,
      employeeFirstName: 'Joe',
      employeeLastName: 'Bob',
      employeeEmail: 'joe.bob@institution.edu',
      outreachSource: 'Faculty',
      outreachMedium: 'Email',
      students: [{ institutionPersonID: 123567, firstName: 'Scarlett', lastName: 'Jones', emailAddress: 'scarlett.jones@institution.edu', createdAt: FACULTY_AT }],
      outreachProperties: [
        property(FACULTY_ID, FACULTY_AT, 12, 'isAttrition', '0'),
        property(FACULTY_ID, FACULTY_AT, 10, 'outreachInitiator', 'Faculty Initiated', '07e0f3dd-1673-8244-2364-b95f97bbf13e'),
        property(FACULTY_ID, FACULTY_AT, 13, 'outreachMediumResult', 'Email sent', '5bb6226a-5db7-69b7-2054-0b7a725e045a'),
        property(FACULTY_ID, FACULTY_AT, 11, 'rawEnrollmentId', '35776743'),
      ],
    },
  };
}
